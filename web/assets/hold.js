// A press-and-hold button: the action happens only after the button has been held for
// `ms` (with a visible fill), by pointer or by holding Space or Enter, so an alarm is
// never raised by a stray tap. Letting go early cancels it.

export function holdToConfirm(button, { ms = 1000, onDone, onCancel, onStart }) {
  let started = null;
  let frame = null;
  let via = null;

  const setProgress = (p) => {
    button.style.setProperty("--progress", String(p));
    button.classList.toggle("holding", p > 0 && p < 1);
  };

  const tick = () => {
    if (started === null) return;
    const p = Math.min(1, (performance.now() - started) / ms);
    setProgress(p);
    if (p >= 1) {
      started = null;
      via = null;
      setProgress(0);
      onDone();
      return;
    }
    frame = requestAnimationFrame(tick);
  };

  const start = (source) => {
    if (started !== null || button.disabled) return;
    started = performance.now();
    via = source;
    onStart?.();
    frame = requestAnimationFrame(tick);
  };

  const stop = (source) => {
    if (started === null || via !== source) return;
    cancelAnimationFrame(frame);
    const held = performance.now() - started;
    started = null;
    via = null;
    setProgress(0);
    onCancel?.(held);
  };

  button.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    button.setPointerCapture?.(ev.pointerId);
    start("pointer");
  });
  for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
    button.addEventListener(type, () => stop("pointer"));
  }
  button.addEventListener("keydown", (ev) => {
    if (ev.key !== " " && ev.key !== "Enter") return;
    ev.preventDefault();
    if (!ev.repeat) start("key");
  });
  button.addEventListener("keyup", (ev) => {
    if (ev.key !== " " && ev.key !== "Enter") return;
    ev.preventDefault();
    stop("key");
  });
  button.addEventListener("blur", () => stop("key"));
  // A long press on a phone would otherwise open the context menu.
  button.addEventListener("contextmenu", (ev) => ev.preventDefault());
  // A click (from assistive technology, which has no "hold") is not enough: say so.
  button.addEventListener("click", (ev) => {
    if (ev.detail === 0 && via === null) onCancel?.(0);
  });
}

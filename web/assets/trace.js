// Trace over the camera's pictures: a <canvas> laid over a glimpse or the live sight. A
// finger (or mouse) drawn over it sends the stroke to the partner as it is drawn, and the
// partner's strokes are drawn on it in place. Points are fractions of the picture's width
// and height, so a stroke lands on the same spot whatever size each side shows the
// picture at; the canvas is redrawn whenever its size changes.
//
// The gallery's pictures draw their strokes as SVG (pictures.js); these pictures change
// many times a second under the strokes (the live sight), so the strokes are painted on a
// canvas of their own.

/** Points of a stroke go out in batches this often. */
const BATCH_MS = 50;
/** The most points one trace frame may carry (the server's limit). */
const MAX_POINTS = 256;
/** The strokes a canvas keeps; older ones fade out of the list. */
const KEEP = 64;
/** Stroke colours: the same as the gallery's (style.css, .stroke-mine and .stroke-theirs). */
const COLOURS = { mine: "#ffd166", theirs: "#7ee0ff" };

let strokes = 0;

export class TraceCanvas {
  /**
   * @param {object} o
   * @param {HTMLCanvasElement} o.canvas laid over the picture, the same size
   * @param {() => object|null} o.over what the picture is, as a trace frame names it
   *   ({glimpse: ID} or {sight: NAME}); null while it cannot be named yet
   * @param {(frame: object) => boolean} o.sendFrame sends a link frame
   * @param {() => boolean} o.canTrace whether strokes may pass now (the images tier)
   */
  constructor({ canvas, over, sendFrame, canTrace }) {
    this.canvas = canvas;
    this.over = over;
    this.sendFrame = sendFrame;
    this.canTrace = canTrace;
    /** [{whose, points}] in the order drawn */
    this.strokes = [];
    /** "from:stroke" → the partner's stroke being drawn */
    this.open = new Map();
    new ResizeObserver(() => this.draw()).observe(canvas);
    this.listen();
  }

  /** Forgets every stroke (a new picture under the canvas). */
  clear() {
    this.strokes = [];
    this.open.clear();
    this.draw();
  }

  /** Part of a stroke the partner drew over this picture. */
  add(f) {
    const key = `${f.from}:${f.stroke}`;
    let stroke = this.open.get(key);
    if (!stroke) {
      stroke = this.keep("theirs");
      this.open.set(key, stroke);
    }
    stroke.points.push(...f.points);
    if (f.end) this.open.delete(key);
    this.draw();
  }

  keep(whose) {
    const stroke = { whose, points: [] };
    this.strokes.push(stroke);
    if (this.strokes.length > KEEP) this.strokes.shift();
    return stroke;
  }

  /** Paints every stroke at the canvas's present size. */
  draw() {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = Math.round(c.clientWidth * ratio);
    const h = Math.round(c.clientHeight * ratio);
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    if (!w || !h) return;
    ctx.lineWidth = 3 * ratio;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const { whose, points } of this.strokes) {
      if (!points.length) continue;
      ctx.strokeStyle = COLOURS[whose];
      ctx.beginPath();
      const [x0, y0] = points[0];
      ctx.moveTo(x0 * w, y0 * h);
      // A single point is a dot: a line of no length, drawn with round caps.
      for (const [x, y] of points.length > 1 ? points.slice(1) : points) ctx.lineTo(x * w, y * h);
      ctx.stroke();
    }
  }

  listen() {
    const c = this.canvas;
    let stroke = null;
    const at = (ev) => {
      const r = c.getBoundingClientRect();
      const clamp = (v) => Math.min(1, Math.max(0, v));
      return [clamp((ev.clientX - r.left) / r.width), clamp((ev.clientY - r.top) / r.height)];
    };
    const flush = (end) => {
      if (!stroke) return;
      const send = (points, last) =>
        this.sendFrame({ type: "trace", ...stroke.over, stroke: stroke.no, points, end: last });
      while (stroke.pending.length > MAX_POINTS) send(stroke.pending.splice(0, MAX_POINTS), false);
      if (stroke.pending.length || end) {
        send(stroke.pending, end);
        stroke.pending = [];
      }
      if (end) {
        clearInterval(stroke.timer);
        stroke = null;
      }
    };
    c.addEventListener("pointerdown", (ev) => {
      const over = this.over();
      if (!over || !this.canTrace()) return;
      ev.preventDefault();
      try {
        c.setPointerCapture(ev.pointerId);
      } catch {
        // A pointer the browser no longer tracks: the stroke still draws.
      }
      strokes += 1;
      stroke = {
        no: strokes,
        over,
        line: this.keep("mine"),
        pending: [],
        timer: setInterval(() => flush(false), BATCH_MS),
      };
      const p = at(ev);
      stroke.pending.push(p);
      stroke.line.points.push(p);
      this.draw();
    });
    c.addEventListener("pointermove", (ev) => {
      if (!stroke) return;
      const p = at(ev);
      stroke.pending.push(p);
      stroke.line.points.push(p);
      this.draw();
    });
    for (const type of ["pointerup", "pointercancel"]) c.addEventListener(type, () => flush(true));
  }
}

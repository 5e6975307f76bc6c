// The accept form's QR code scanner (issue 20): a partner's private invite, shown as a QR
// code on their screen or in a picture, is read here, in the page, by this device's camera
// or from an image file, and its code filled into the form. The code is the invite's
// secret, so nothing of it leaves the device: frames and pictures are decoded in the page
// by the vendored `qr` package's decoder (vendor/qr/decode.js, loaded the first time).
// A phone's own camera app does the same by opening the link the code holds; this is for
// a laptop, or a browser without such an app.

import * as priv from "./private.js";

/** How often a camera frame is looked at, and the largest side it is scaled down to. */
const FRAME_MS = 150;
const MAX_SIDE = 960;

/** The private invite code in a QR code's text: the link an invite's QR code holds
 *  (`…/#accept=CODE`), or a code alone; null for anything else. */
export function codeInText(text) {
  let code = String(text).trim();
  const m = /#accept=([^&#]+)$/.exec(code);
  if (m) {
    try {
      code = decodeURIComponent(m[1]).trim();
    } catch {
      return null;
    }
  }
  return priv.isPrivateCode(code) ? code : null;
}

let decoder = null;
async function decodeQR() {
  decoder ??= import("./vendor/qr/decode.js").then((m) => m.decodeQR);
  return decoder;
}

/** The text of the QR code in `source` (a video, an image bitmap) drawn on `canvas`,
 *  or null when none is read. */
async function readFrom(source, width, height, canvas) {
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, w, h);
  const decode = await decodeQR();
  try {
    return decode(ctx.getImageData(0, 0, w, h));
  } catch {
    return null; // no QR code found in it
  }
}

/** The private invite code in an image file, or a reason it has none. */
export async function codeInFile(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return { error: "this file is not a picture this browser can read" };
  }
  const text = await readFrom(bitmap, bitmap.width, bitmap.height, document.createElement("canvas"));
  bitmap.close();
  if (text === null) return { error: "no QR code could be read in this picture" };
  const code = codeInText(text);
  return code ? { code } : { error: "this QR code is not a Haurach private invite" };
}

/** Looks through the camera for a private invite's QR code until one is read or
 *  `stop` is called. `onCode(code)` once, then the camera is off; `onStatus(text)` says
 *  what it is doing. */
export class Scanner {
  constructor({ video, onCode, onStatus }) {
    this.video = video;
    this.onCode = onCode;
    this.onStatus = onStatus;
    this.stream = null;
    this.timer = null;
    this.canvas = document.createElement("canvas");
  }

  get running() {
    return this.stream !== null;
  }

  async start() {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error("this browser gives the page no camera (it needs HTTPS)");
    }
    await decodeQR();
    this.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment" },
      audio: false,
    });
    this.video.srcObject = this.stream;
    await this.video.play();
    this.onStatus("Hold your partner's QR code in front of the camera.");
    this.look();
  }

  look() {
    this.timer = setTimeout(async () => {
      if (!this.running) return;
      const { videoWidth: w, videoHeight: h } = this.video;
      const text = w && h ? await readFrom(this.video, w, h, this.canvas) : null;
      if (!this.running) return;
      if (text !== null) {
        const code = codeInText(text);
        if (code) {
          this.stop();
          this.onCode(code);
          return;
        }
        this.onStatus("That QR code is not a Haurach private invite: still looking.");
      }
      this.look();
    }, FRAME_MS);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.video.srcObject = null;
  }
}

// The drawing pad: strokes in white on black, as MNIST's digits are; after each stroke the strokes go to
// POST /predict, redrawn with MNIST's pen for their size, and the answer, its top three and the 28x28
// picture the model received are shown.
// The page speaks Chinese when the browser prefers it, English otherwise; the buttons at the top switch.
const TEXTS = {
  en: {
    title: "Draw a digit · mnist_lit", heading: "Draw a digit", loading: "Loading the model…", clear: "Clear", pen: "Pen",
    upload: "Or classify a photo or scan", reads: "The model reads",
    saw: "What the model saw (28×28, as MNIST's digits are framed)", api: "with pictures in the field",
    pad: "Drawing pad: draw one digit", seen: "The 28 by 28 picture the model received",
    model: (title, net, checkpoint) => `${title} model, ${net}, checkpoint ${checkpoint}`,
  },
  zh: {
    title: "手写数字 · mnist_lit", heading: "写一个数字", loading: "正在加载模型…", clear: "清除", pen: "笔的粗细",
    upload: "或者识别一张照片或扫描图", reads: "模型认为是",
    saw: "模型看到的图（28×28，和 MNIST 的数字一样摆放）", api: "，图片放在字段",
    pad: "手写板：写一个数字", seen: "模型收到的 28×28 图片",
    model: (title, net, checkpoint) => `${title} 模型，${net}，检查点 ${checkpoint}`,
  },
};
const preferred = (navigator.languages || [navigator.language || "en"]).find((tag) => /^(zh|en)\b/i.test(tag)) || "en";
let language = localStorage.getItem("language") || (/^zh/i.test(preferred) ? "zh" : "en");
let describeModel = null; // the model's line, once /model has answered
let strokeShare = null; // the pen the model gets the strokes in, as a share of their extent (from /model)

function translate() {
  const texts = TEXTS[language];
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
  document.title = texts.title;
  document.querySelectorAll("[data-text]").forEach((element) => { element.textContent = texts[element.dataset.text]; });
  document.querySelectorAll("[data-label]").forEach((element) => element.setAttribute("aria-label", texts[element.dataset.label]));
  document.querySelectorAll("#languages button").forEach((button) => button.setAttribute("aria-pressed", String(button.dataset.lang === language)));
  if (describeModel) document.getElementById("model").textContent = describeModel(texts);
}

document.querySelectorAll("#languages button").forEach((button) => button.addEventListener("click", () => {
  language = button.dataset.lang;
  localStorage.setItem("language", language);
  translate();
}));
translate();
const pad = document.getElementById("pad");
const ink = pad.getContext("2d");
const pen = document.getElementById("pen"); // the width the strokes are shown in, in the pad's pixels
const seen = document.getElementById("seen").getContext("2d");
const prediction = document.getElementById("prediction");
const top3 = document.getElementById("top");
const message = document.getElementById("message");
let last = null;
let strokes = []; // each a list of the points the pointer passed, in the pad's pixels
let sent = 0;

// a canvas made black, with a round white pen of the given width
function prepare(context, width) {
  context.fillStyle = "#000";
  context.fillRect(0, 0, context.canvas.width, context.canvas.height);
  context.strokeStyle = context.fillStyle = "#fff";
  context.lineWidth = width;
  context.lineCap = context.lineJoin = "round";
}

// where a stroke starts: a dot the pen's width, so that a tap leaves a mark
function dot(context, p) {
  context.beginPath();
  context.arc(p.x, p.y, context.lineWidth / 2, 0, 2 * Math.PI);
  context.fill();
}

function blank() {
  prepare(ink, Number(pen.value));
}

// The strokes as the model gets them: drawn again, on a pad of their own, with a pen strokeShare of their
// extent wide, as MNIST's writers' pens were for their digits. The pen a person picks only changes how the
// strokes look: a broad one on a small digit would fill its loops, a fine one on a large digit would fade
// when the digit is shrunk to 20 pixels (docs/robustness.md, "Digits drawn with the page's pens").
function redrawn() {
  if (strokeShare === null) return pad; // /model has not answered yet: the strokes as shown
  const points = strokes.flat();
  const side = (axis) => {
    const values = points.map((p) => p[axis]); // reduced, not spread: a long drawing has many points
    return values.reduce((a, b) => Math.max(a, b)) - values.reduce((a, b) => Math.min(a, b));
  };
  const copy = document.createElement("canvas");
  copy.width = pad.width;
  copy.height = pad.height;
  const redraw = copy.getContext("2d");
  prepare(redraw, Math.max(1, strokeShare * Math.max(side("x"), side("y"))));
  for (const [first, ...rest] of strokes) {
    dot(redraw, first);
    redraw.beginPath();
    redraw.moveTo(first.x, first.y);
    rest.forEach((p) => redraw.lineTo(p.x, p.y));
    redraw.stroke();
  }
  return copy;
}

pen.addEventListener("input", () => { ink.lineWidth = Number(pen.value); });

function point(event) {
  const box = pad.getBoundingClientRect();
  return { x: (event.clientX - box.left) * pad.width / box.width, y: (event.clientY - box.top) * pad.height / box.height };
}

function lineTo(next) {
  ink.beginPath();
  ink.moveTo(last.x, last.y);
  ink.lineTo(next.x, next.y);
  ink.stroke();
  strokes.at(-1).push(next);
  last = next;
}

pad.addEventListener("pointerdown", (event) => {
  pad.setPointerCapture(event.pointerId);
  last = point(event);
  strokes.push([last]);
  dot(ink, last);
});
pad.addEventListener("pointermove", (event) => {
  if (!last) return;
  // a pen or a finger reports more points than events: take them all for a smooth stroke
  const points = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  (points.length ? points : [event]).forEach((p) => lineTo(point(p)));
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => {
    if (!last) return;
    last = null;
    redrawn().toBlob((blob) => classify(blob, "pad.png"), "image/png");
  });
}

document.getElementById("clear").addEventListener("click", () => {
  blank();
  strokes = [];
  sent += 1; // an answer still on its way is for the old drawing
  pad.dataset.sent = pad.dataset.answered = String(sent);
  prediction.textContent = message.textContent = "";
  top3.replaceChildren();
  seen.clearRect(0, 0, 28, 28);
});

document.getElementById("upload").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) classify(file, file.name);
});

async function classify(blob, name) {
  const mine = ++sent;
  pad.dataset.sent = String(mine);
  const form = new FormData();
  form.append("files", blob, name);
  let body;
  try {
    const response = await fetch("predict?pixels=true", { method: "POST", body: form });
    body = await response.json();
    if (!response.ok) throw new Error(typeof body.detail === "string" ? body.detail : response.statusText);
  } catch (error) {
    if (mine === sent) show({ error: String(error.message || error) });
    return;
  }
  if (mine === sent) show(body.predictions[0]); // an older stroke's answer never replaces a newer one
}

function show(answer) {
  prediction.textContent = answer.error ? "" : answer.label;
  message.textContent = answer.error || "";
  top3.replaceChildren(...(answer.top || []).map(([label, probability]) => {
    const row = document.createElement("li");
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = `${(100 * probability).toFixed(1)}%`;
    const track = document.createElement("div");
    track.append(bar);
    const value = document.createElement("span");
    value.className = "probability";
    value.textContent = `${(100 * probability).toFixed(1)}%`;
    const name = document.createElement("strong");
    name.textContent = label;
    row.append(name, track, value);
    return row;
  }));
  const picture = seen.createImageData(28, 28);
  (answer.pixels || []).flat().forEach((value, i) => {
    picture.data.fill(Math.round(255 * value), 4 * i, 4 * i + 3);
    picture.data[4 * i + 3] = 255;
  });
  seen.putImageData(picture, 0, 0);
  pad.dataset.answered = pad.dataset.sent;
}

fetch("model").then((r) => r.json()).then((model) => {
  // earlier exports name an MLP by its hidden sizes alone
  const net = model.net || { class_path: "MLP", init_args: { hidden_sizes: model.hidden_sizes } };
  const args = Object.entries(net.init_args || {}).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  const name = `${net.class_path.split(".").pop()}(${args.join(", ")})`;
  strokeShare = model.stroke_share;
  describeModel = (texts) => texts.model(model.title, name, model.checkpoint.split("/").slice(-4).join("/"));
  const line = document.getElementById("model");
  delete line.dataset.text; // the model's own line from now on
  translate();
});

blank();

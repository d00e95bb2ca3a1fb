// The drawing pad: strokes in white on black, as MNIST's digits are; after each stroke the picture goes
// to POST /predict, and the answer, its top three and the 28x28 picture the model received are shown.
const pad = document.getElementById("pad");
const ink = pad.getContext("2d");
const seen = document.getElementById("seen").getContext("2d");
const prediction = document.getElementById("prediction");
const top3 = document.getElementById("top");
const message = document.getElementById("message");
let last = null;
let sent = 0;

function blank() {
  ink.fillStyle = "#000";
  ink.fillRect(0, 0, pad.width, pad.height);
  ink.strokeStyle = ink.fillStyle = "#fff";
  ink.lineWidth = pad.width / 10; // MNIST's stroke, two to three pixels, once the digit is scaled to 20 pixels
  ink.lineCap = ink.lineJoin = "round";
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return { x: (event.clientX - box.left) * pad.width / box.width, y: (event.clientY - box.top) * pad.height / box.height };
}

function lineTo(next) {
  ink.beginPath();
  ink.moveTo(last.x, last.y);
  ink.lineTo(next.x, next.y);
  ink.stroke();
  last = next;
}

pad.addEventListener("pointerdown", (event) => {
  pad.setPointerCapture(event.pointerId);
  last = point(event);
  ink.beginPath();
  ink.arc(last.x, last.y, ink.lineWidth / 2, 0, 2 * Math.PI);
  ink.fill();
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
    pad.toBlob((blob) => classify(blob, "pad.png"), "image/png");
  });
}

document.getElementById("clear").addEventListener("click", () => {
  blank();
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
  const layers = model.hidden_sizes.length === 1 ? "one hidden layer" : `${model.hidden_sizes.length} hidden layers`;
  document.getElementById("model").textContent =
    `${model.title} model, ${layers} (${[model.input_size, ...model.hidden_sizes, model.class_names.length].join("→")}), ` +
    `checkpoint ${model.checkpoint.split("/").slice(-4).join("/")}`;
});

blank();

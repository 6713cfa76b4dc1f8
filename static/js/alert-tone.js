// The alert tone: Web Audio, no sound file. Repeats until stopped; louder and
// faster when an alert escalates.

let context = null;
let timer = null;

function beep(volume, frequency) {
  context ??= new AudioContext();
  const oscillator = context.createOscillator();
  const gain = context.createGain();
  oscillator.type = "square";
  oscillator.frequency.value = frequency;
  gain.gain.value = volume;
  oscillator.connect(gain).connect(context.destination);
  oscillator.start();
  oscillator.stop(context.currentTime + 0.18);
}

export function startTone({ escalated = false } = {}) {
  stopTone();
  const volume = escalated ? 0.6 : 0.25;
  const every = escalated ? 500 : 1000;
  const play = () => {
    beep(volume, 880);
    setTimeout(() => beep(volume, 660), 220);
  };
  try {
    play();
  } catch (error) {
    // Browsers refuse audio before the first click on the page; the banner still shows.
  }
  timer = setInterval(() => {
    try { play(); } catch (error) { /* see above */ }
  }, every);
  document.body.dataset.tone = escalated ? "escalated" : "on";
}

export function stopTone() {
  clearInterval(timer);
  timer = null;
  delete document.body.dataset.tone;
}

// Unlock audio on the first interaction, as browsers require.
addEventListener("pointerdown", () => { context ??= new AudioContext(); context.resume(); }, { once: true });
addEventListener("keydown", () => { context ??= new AudioContext(); context.resume(); }, { once: true });

// When the widget and the console say "typing…": run with `node --test tests/js/`.
import assert from "node:assert/strict";
import test from "node:test";

import { TypingSignal } from "../../channels/static/widget/typing.js";

function signal({ online = () => true } = {}) {
  const clock = { t: 1_000_000 };
  const sent = [];
  const typing = new TypingSignal(() => online() && sent.push(clock.t) > 0, { every: 2500, now: () => clock.t });
  return { clock, sent, typing };
}

test("the first keystroke is signalled at once, then at most one signal per interval", () => {
  const { clock, sent, typing } = signal();
  for (let i = 0; i < 10; i++, clock.t += 200) typing.input();
  assert.deepEqual(sent, [1_000_000]);
  clock.t = 1_002_500;
  typing.input();
  assert.deepEqual(sent, [1_000_000, 1_002_500]);
});

test("after a message is sent, the next keystroke is signalled at once", () => {
  // The customer types a question and sends it; an agent takes over and the customer
  // types again within the interval: the agent must see it (the browser test's case).
  const { clock, sent, typing } = signal();
  typing.input();
  typing.reset(); // message sent
  clock.t += 1200;
  typing.input();
  assert.deepEqual(sent, [1_000_000, 1_001_200]);
});

test("a keystroke while offline is not counted as signalled", () => {
  let online = false;
  const { clock, sent, typing } = signal({ online: () => online });
  assert.equal(typing.input(), false);
  online = true;
  clock.t += 100;
  assert.equal(typing.input(), true);
  assert.deepEqual(sent, [1_000_100]);
});

// Drives parley's chat page in headless Chromium (Debian's package) for
// tests/browser.rs: pick a name, join a room, see the TCP user in the member
// list, send a message, wait for the reply, and save a screenshot.
//
// usage: node chat.js URL NAME ROOM PEER SEND EXPECT SCREENSHOT
// Prints one "step: ..." line per step; exits non-zero on any failure.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const [url, name, room, peer, toSend, expected, shot] = process.argv.slice(2);
const STEP_MS = 15000;

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "parley-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 60000,
    viewport: { width: 1000, height: 640 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(STEP_MS);
    page.on("console", (m) => console.log("console: " + m.text()));
    page.on("pageerror", (e) => { console.log("page error: " + e); process.exitCode = 3; });

    await page.goto(url);
    console.log("step: page loaded, title " + JSON.stringify(await page.title()));
    await page.fill("#name", name);
    await page.fill("#room", room);
    await page.click("#connect");
    await page.locator("#status", { hasText: "connected as " + name }).waitFor();
    console.log("step: registered as " + name);
    await page.locator("#log .line", { hasText: "You joined " + room }).waitFor();
    await page.locator("#members li", { hasText: peer }).waitFor();
    console.log("step: joined " + room + ", " + peer + " is listed");
    await page.fill("#msg", toSend);
    await page.press("#msg", "Enter");
    await page.locator("#log .line.mine", { hasText: toSend }).waitFor();
    console.log("step: sent " + JSON.stringify(toSend));
    await page.locator("#log .line", { hasText: expected }).waitFor();
    console.log("step: received " + JSON.stringify(expected));
    await page.screenshot({ path: shot });
    console.log("step: screenshot " + shot);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(
  () => console.log("done"),
  (e) => { console.error("browser test failed: " + (e && e.stack || e)); process.exit(1); },
);

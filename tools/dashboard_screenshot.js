// A picture of central's dashboard, as `tools/ev screenshot FILE` takes it:
//   node tools/dashboard_screenshot.js URL FILE
// Logs in as EVNET_OPERATOR / EVNET_OPERATOR_PASSWORD, opens URL?snapshot
// (drawn once, no live stream, so the page settles) and saves FILE. With
// EVNET_SCREENSHOT_LIVE=SECONDS it opens the live page instead and takes
// the picture after that long, so that the sparklines have drawn a while.
"use strict";

const path = require("path");
const { chromium } = require(path.join(process.env.EVNET_NODE_MODULES || "", "playwright-core"));

const [url, file] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  try {
    // The dashboard's certificate is of the network's own CA.
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 },
                                         ignoreHTTPSErrors: true });
    const live = Number(process.env.EVNET_SCREENSHOT_LIVE || 0);
    await page.goto(live > 0 ? url : `${url}?snapshot`);
    const login = page.locator("#login");
    const network = page.locator("#network");
    await Promise.race([login.waitFor({ state: "visible" }), network.waitFor({ state: "visible" })]);
    if (await login.isVisible()) {
      await login.locator('input[name="name"]').fill(process.env.EVNET_OPERATOR || "operator");
      await login.locator('input[name="password"]').fill(process.env.EVNET_OPERATOR_PASSWORD || "");
      await login.locator("button[type=submit]").click();
      await network.waitFor({ state: "visible", timeout: 15000 });
    }
    if (live > 0) {
      await page.waitForTimeout(live * 1000);  // a stream never idles: a set time
    } else {
      await page.waitForLoadState("networkidle", { timeout: 15000 });
    }
    await page.screenshot({ path: file, fullPage: true });
    console.log(`saved ${file}`);
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(`screenshot failed: ${e.message}`);
  process.exit(1);
});

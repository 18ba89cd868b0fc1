// Drives central's dashboard in headless Chromium, one step per run:
//   node dashboard_steps.js URL STEP SCREENSHOT_DIR
// Each step opens a fresh browser and logs in as the operator
// (EVNET_OPERATOR, EVNET_OPERATOR_PASSWORD) through the page's form.
// Steps: live (colours, kWh growing without reload), stop (click Stop on
// CP-001: orange, and its session ends with a ticket), red (CP-002 broken),
// green (CP-002 back on), reconnect (the open page follows a central
// restart by itself), snapshot (?snapshot draws once, opens no stream, and
// its network goes idle), operate (Reset on OCPP-001's tile, its answer on
// the page), history (the books' tickets listed, filtered and downloaded as
// CSV), charts (the network's power of the last hour, sparklines on the
// tiles, the books' hours and each CP's utilisation, drawn by uPlot).
// Exits 0 when the step's expectations hold.
"use strict";

const path = require("path");
const { chromium } = require(path.join(process.env.EVNET_NODE_MODULES || "", "playwright-core"));

const [url, step, shots] = process.argv.slice(2);
let streamed = false;  // whether the page asked for the live stream
const GREEN = "rgb(46, 125, 50)";
const ORANGE = "rgb(239, 108, 0)";
const RED = "rgb(198, 40, 40)";

function tile(page, cp) {
  return page.locator(`.tile[data-cp="${cp}"]`);
}

// Waits until CP's tile shows `status` drawn in `colour`. The page redraws
// its tiles as the stream comes in, so status and colour are read together.
async function expectTile(page, cp, status, colour) {
  const drawn = ([id, want, paint]) => {
    const t = document.querySelector(`.tile[data-cp="${id}"]`);
    return t !== null && t.dataset.status === want && getComputedStyle(t).borderLeftColor === paint;
  };
  try {
    await page.waitForFunction(drawn, [cp, status, colour], { timeout: 15000 });
  } catch (e) {
    const seen = await page.evaluate((id) => {
      const t = document.querySelector(`.tile[data-cp="${id}"]`);
      return t === null ? "no tile" : `${t.dataset.status} drawn ${getComputedStyle(t).borderLeftColor}`;
    }, cp);
    throw new Error(`${cp} never showed ${status} in ${colour}; last seen: ${seen}`);
  }
}

async function kwh(page, cp) {
  return Number(await tile(page, cp).locator(".kwh").textContent());
}

async function logIn(page) {
  const form = page.locator("#login");
  // The first Chromium of a fresh machine builds its font and profile caches
  // before it draws anything: the first page may take much longer than 15 s.
  await form.waitFor({ state: "visible", timeout: 60000 });
  await form.locator('input[name="name"]').fill(process.env.EVNET_OPERATOR || "");
  await form.locator('input[name="password"]').fill(process.env.EVNET_OPERATOR_PASSWORD || "");
  await form.locator("button[type=submit]").click();
  await page.locator("#network").waitFor({ state: "visible", timeout: 15000 });
  // Logged in, the form is gone (a display rule once kept it on screen).
  await form.waitFor({ state: "hidden", timeout: 5000 });
}

async function run(page) {
  await logIn(page);
  switch (step) {
    case "live": {
      await expectTile(page, "CP-001", "supplying", GREEN);
      await expectTile(page, "CP-002", "active", GREEN);
      const first = await kwh(page, "CP-001");
      // The page is never reloaded: the number must grow from the stream.
      await page.waitForFunction(
        (before) => Number(document.querySelector('.tile[data-cp="CP-001"] .kwh').textContent) > before,
        first, { timeout: 10000 });
      console.log(`CP-001 kWh grew from ${first} to ${await kwh(page, "CP-001")} without a reload`);
      break;
    }
    case "stop": {
      await expectTile(page, "CP-001", "supplying", GREEN);
      await tile(page, "CP-001").locator("button", { hasText: "Stop" }).click();
      await expectTile(page, "CP-001", "stopped", ORANGE);
      await page.locator("#tickets tbody tr", { hasText: "stopped by operator" }).first()
        .waitFor({ timeout: 15000 });
      console.log("CP-001 turned orange and its session ended with a ticket");
      break;
    }
    case "history": {
      // The books, from SQL: the operator's stop ended alice's session with
      // a ticket, which the History lists (asked again until it is booked).
      const alice = page.locator("#history-tickets tbody tr", { hasText: "driver-alice" });
      const filter = page.locator("#history-filter");
      const deadline = Date.now() + 20000;
      while (await alice.count() === 0) {
        if (Date.now() > deadline) throw new Error("no ticket of driver-alice in the History");
        await page.waitForTimeout(500);  // the books take a batch at most every 200 ms
        await filter.locator("button[type=submit]").click();
      }
      const row = await alice.first().textContent();
      if (!row.includes("CP-001") || !row.includes("STOPPED_BY_OPERATOR")) {
        throw new Error(`the History shows "${row}"`);
      }
      // Filtered to another driver, nothing.
      await filter.locator('input[name="driver"]').fill("driver-bob");
      await filter.locator("button[type=submit]").click();
      await page.waitForFunction(() => document.getElementById("history-count").textContent === "0 ticket(s)",
                                 null, { timeout: 10000 });
      // The download is the same tickets as CSV, every page of them.
      await filter.locator('input[name="driver"]').fill("driver-alice");
      await filter.locator("button[type=submit]").click();
      await alice.first().waitFor({ timeout: 10000 });
      const csv = await page.evaluate(async () => {
        const response = await fetch(document.getElementById("history-csv").href);
        return `${response.headers.get("content-type")}\n${await response.text()}`;
      });
      const lines = csv.trim().split(/\r?\n/);
      if (!lines[0].startsWith("text/csv") || !lines[1].startsWith("session_id,request_id,driver_id") ||
          !lines.slice(2).some((l) => l.includes(",driver-alice,CP-001,") && l.includes(",STOPPED_BY_OPERATOR,"))) {
        throw new Error(`the CSV download is:\n${csv}`);
      }
      console.log(`the History lists alice's ticket (${row}) and downloads it as CSV`);
      break;
    }
    case "charts": {
      // Drawn, with what they drew in data- attributes: central's samples
      // of the hour hold CP-001's 22 kW from before the operator stopped it;
      // the books hold alice's ticket; every CP has a bar; CP-001's tile a
      // sparkline growing from the stream.
      const drew = () => {
        const d = (id) => document.getElementById(id).dataset;
        const spark = document.querySelector('.tile[data-cp="CP-001"] .spark');
        return document.querySelectorAll("#chart-power canvas").length === 1 &&
          Number(d("chart-power").points) >= 2 && Number(d("chart-power").max) >= 22 &&
          Number(d("chart-hours").sessions) >= 1 && Number(d("chart-utilisation").cps) >= 2 &&
          spark !== null && spark.querySelector("canvas") !== null && Number(spark.dataset.points) >= 2 &&
          document.getElementById("charts-note").hidden;
      };
      // Central keeps its charts 10 s and the page asks each minute: asked
      // again by a reload while the books have not caught up.
      const deadline = Date.now() + 40000;
      for (;;) {
        try {
          await page.waitForFunction(drew, null, { timeout: 8000 });
          break;
        } catch (e) {
          if (Date.now() > deadline) break;
          await page.reload();
        }
      }
      try {
        await page.waitForFunction(drew, null, { timeout: 1000 });
      } catch (e) {
        const seen = await page.evaluate(() => JSON.stringify({
          power: { ...document.getElementById("chart-power").dataset },
          hours: { ...document.getElementById("chart-hours").dataset },
          utilisation: { ...document.getElementById("chart-utilisation").dataset },
          note: document.getElementById("charts-note").textContent,
          spark: (document.querySelector('.tile[data-cp="CP-001"] .spark') || { dataset: {} }).dataset.points,
        }));
        throw new Error(`the charts drew ${seen}`);
      }
      console.log("the charts drew the hour's power, the books' hours, utilisation and sparklines");
      break;
    }
    case "reconnect": {
      // The harness restarts central once this says the page is live.
      await page.waitForFunction(() => document.getElementById("connection").textContent === "live",
                                 null, { timeout: 15000 });
      console.log("page is live");
      await page.waitForFunction(() => document.getElementById("connection").textContent !== "live",
                                 null, { timeout: 30000 });
      await page.waitForFunction(() => document.getElementById("connection").textContent === "live",
                                 null, { timeout: 30000 });
      await expectTile(page, "CP-002", "active", GREEN);
      console.log("the page reconnected by itself after central restarted");
      break;
    }
    case "snapshot": {
      await expectTile(page, "CP-002", "active", GREEN);
      // What a screenshot tool waits for: no request left open.
      await page.waitForLoadState("networkidle", { timeout: 10000 });
      const label = await page.locator("#connection").textContent();
      if (!label.startsWith("snapshot")) throw new Error(`the page says "${label}", not snapshot`);
      if (streamed) throw new Error("the snapshot opened the live stream");
      console.log("the snapshot drew the network once and settled");
      break;
    }
    case "operate": {
      // An OCPP charger's tile has its operations; a native CP's has none.
      await expectTile(page, "OCPP-001", "active", GREEN);
      const native = await tile(page, "CP-002").locator("button.operation").count();
      if (native !== 0) throw new Error(`CP-002 shows ${native} charger operations`);
      await tile(page, "OCPP-001").locator("button", { hasText: "Reset" }).click();
      const notice = page.locator("#notice");
      await notice.waitFor({ state: "visible", timeout: 20000 });
      const text = await notice.textContent();
      if (text !== 'OCPP-001 answered Reset: {"status":"Accepted"}') {
        throw new Error(`the page says "${text}"`);
      }
      console.log(`the charger's answer is on the page: ${text}`);
      break;
    }
    case "red":
      await expectTile(page, "CP-002", "broken", RED);
      console.log("CP-002 turned red");
      break;
    case "green":
      await expectTile(page, "CP-002", "active", GREEN);
      console.log("CP-002 turned green again");
      break;
    default:
      throw new Error(`unknown step ${step}`);
  }
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // The dashboard's certificate is of the test network's own CA.
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 },
                                       ignoreHTTPSErrors: true });
  let failed = null;
  page.on("request", (request) => {
    if (request.url().includes("/api/stream")) streamed = true;
  });
  // The page's own errors, said with the step's: a script that threw leaves
  // nothing drawn and no other trace.
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.stack || error.message));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(message.text());
  });
  try {
    const started = Date.now();
    await page.goto(step === "snapshot" ? `${url}?snapshot` : url, { timeout: 60000 });
    console.log(`step ${step}: page loaded in ${Date.now() - started} ms`);
    await run(page);
  } catch (e) {
    failed = e;
  }
  if (shots) await page.screenshot({ path: path.join(shots, `dashboard-${step}.png`) }).catch(() => {});
  await browser.close();
  if (failed) {
    for (const error of pageErrors) console.error(`step ${step}: the page said: ${error}`);
    console.error(`step ${step} failed: ${failed.message}`);
    process.exit(1);
  }
})();

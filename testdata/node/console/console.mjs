// Drives the gateway's web console in headless Chromium (the Debian
// package) with playwright-core, as an operator would: sign in, watch a
// task created from the CLI appear and move as the daemon's script agent
// runs it, open it, approve its gate and comment (writes with the CSRF
// token), see a tampered op flagged in the audit view, be refused a write
// without the scope, and see a page of another origin refused a write.
// Screenshots of each page go to $ARTIFACTS. Any failed expectation
// throws: the process exits 1 with the reason on stderr. What the Go test
// checks in the repository afterwards is printed as one JSON line.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import http from "node:http";
import path from "node:path";
import fs from "node:fs";

const { GW, TOKEN, READ_TOKEN, BIN, REPO, ARTIFACTS, CHROMIUM } = process.env;
const TIMEOUT = 120000;
fs.mkdirSync(ARTIFACTS, { recursive: true });

const cli = (...args) => execFileSync(BIN, args, { cwd: REPO, env: process.env, encoding: "utf8" }).trim();
const git = (...args) => execFileSync("git", args, { cwd: REPO, env: process.env, encoding: "utf8" }).trim();
const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, name + ".png"), fullPage: true });
function expect(cond, what) { if (!cond) throw new Error("expected: " + what); }

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
const out = {};
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  ctx.setDefaultTimeout(TIMEOUT);
  const page = await ctx.newPage();
  const requests = [];
  page.on("request", r => requests.push(r.url()));

  // Sign-in: a wrong token is refused, the right one shows the board.
  await page.goto(GW + "/");
  await page.locator("#signin").waitFor();
  await shot(page, "01-signin");
  await page.fill("#token", "gcvt_" + "A".repeat(43));
  await page.press("#token", "Enter");
  await page.locator("#flash.error", { hasText: "Sign-in refused" }).waitFor();
  expect(await page.locator("#nav").isHidden(), "no navigation after a refused sign-in");
  await page.fill("#token", TOKEN);
  await page.click("#signin button");
  await page.locator("#board").waitFor();
  await page.locator("#live.on").waitFor();
  const cookies = await ctx.cookies();
  const ses = cookies.find(c => c.name === "covenant_session");
  expect(ses && ses.httpOnly && ses.sameSite === "Strict", "an HttpOnly, SameSite=Strict session cookie: " + JSON.stringify(cookies));
  expect(!(await page.evaluate(() => document.cookie)).includes("covenant_session"), "the page's scripts cannot read the cookie");
  expect(!(await page.content()).includes(TOKEN), "the secret is not in the page");
  await shot(page, "02-board");

  // A task created from the CLI appears live, then moves as the agent runs it.
  const id = cli("task", "create", "Created from the CLI", "--label", "bot");
  out.task = id;
  const card = page.locator(`.card[data-task="${id}"]`);
  await card.waitFor();
  await page.locator(`.column[data-state="self_review"] .card[data-task="${id}"]`).waitFor();
  await shot(page, "03-board-moved");
  // The filters: by label shows it, by another holder hides it.
  await page.selectOption('select[name="label"]', "bot");
  await card.waitFor();
  await page.selectOption('select[name="label"]', "");
  // A phone-sized viewport shows the board too.
  await page.setViewportSize({ width: 390, height: 844 });
  await card.waitFor();
  await shot(page, "04-board-phone");
  await page.setViewportSize({ width: 1280, height: 800 });

  // The task: history with proofs, the run, the handoff.
  await card.click();
  await page.locator('[data-field="state"]', { hasText: "self_review" }).waitFor();
  await page.locator("#runs").waitFor();
  await page.locator("#handoff").waitFor();
  expect(await page.locator('#history [data-proof="proven"]').count() > 0, "history ops shown proven");
  await shot(page, "05-task");

  // Writes with the CSRF token: approve the review gate, comment.
  const review = page.locator('form.review-form[data-gate="review.code"]');
  await review.locator('input[name="note"]').fill("looks right");
  await review.locator('button[value="approve"]').click();
  await page.locator('#gates tr[data-gate="review.code"]', { hasText: "satisfied" }).waitFor();
  await page.fill("#comment-text", "commented from the console");
  await page.click("#comment-form button");
  await page.locator("li", { hasText: "commented from the console" }).waitFor();
  await shot(page, "06-task-approved");

  // Create a task from the console.
  await page.click('nav a[href="#/new"]');
  await page.fill("#new-title", "Created in the console");
  await page.fill("#new-labels", "ui");
  await shot(page, "07-new");
  await page.click("#new-form button");
  await page.locator("h2", { hasText: "Created in the console" }).waitFor();

  // Identities and grants.
  await page.click('nav a[href="#/identities"]');
  await page.locator("#grants").waitFor();
  await shot(page, "08-identities");

  // A page of another origin (another port of 127.0.0.1: the same site, so
  // the cookie goes with it) cannot write: the form post is refused and a
  // no-cors fetch lands nothing.
  const evil = http.createServer((req, res) => {
    res.setHeader("Content-Type", "text/html");
    res.end(`<!doctype html><form id="f" method="POST" action="${GW}/v1/tasks" enctype="text/plain">` +
      `<input name='{"title":"cross-site forged","body":"' value='"}'></form>` +
      `<script>fetch(${JSON.stringify(GW + "/v1/tasks")}, {method: "POST", mode: "no-cors", credentials: "include", body: JSON.stringify({title: "cross-site fetched"})}).finally(() => { document.title = "sent"; });</script>`);
  });
  await new Promise(r => evil.listen(0, "127.0.0.1", r));
  const evilURL = `http://127.0.0.1:${evil.address().port}/`;
  const other = await ctx.newPage();
  await other.goto(evilURL);
  await other.waitForFunction(() => document.title === "sent");
  const [resp] = await Promise.all([other.waitForResponse(r => r.url() === GW + "/v1/tasks"), other.evaluate(() => document.getElementById("f").submit())]);
  out.cross_site_status = resp.status();
  expect(resp.status() === 403, "the cross-site form post refused with 403, got " + resp.status());
  await other.waitForLoadState();
  await shot(other, "09-cross-site-refused");
  await other.close();
  evil.close();

  // A read-only token signs in and is refused a write, naming the scope.
  const ro = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  ro.setDefaultTimeout(TIMEOUT);
  const rp = await ro.newPage();
  await rp.goto(GW + "/console/");
  await rp.fill("#token", READ_TOKEN);
  await rp.click("#signin button");
  await rp.locator("#board").waitFor();
  await rp.click('nav a[href="#/new"]');
  await rp.fill("#new-title", "Not allowed");
  await rp.click("#new-form button");
  await rp.locator("#flash.error", { hasText: "scope task.create" }).waitFor();
  await shot(rp, "10-refused-scope");
  await ro.close();

  // A tampered op: an unsigned commit appended to the operator's feed is
  // flagged in the audit view.
  const log = JSON.parse(cli("log", "--json"));
  const mine = log.find(e => e.actor && e.actor.name === "alice");
  const ref = "refs/covenant/feeds/" + mine.feed;
  const old = git("rev-parse", ref);
  const forged = git("-c", "user.name=mallory", "-c", "user.email=m@example.invalid", "commit-tree", old + "^{tree}", "-p", old, "-m", "forged");
  git("update-ref", ref, forged, old);
  Object.assign(out, { forged, ref, old });
  await page.click('nav a[href="#/audit"]');
  await page.locator("#verify-summary.bad").waitFor();
  await page.locator("#findings tr", { hasText: "unsigned" }).waitFor();
  await shot(page, "11-audit-tampered");

  // Nothing came from anywhere but the gateway.
  const foreign = requests.filter(u => !u.startsWith(GW) && !u.startsWith("data:"));
  expect(foreign.length === 0, "no request leaves the gateway: " + foreign.join(" "));
  await ctx.close();
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

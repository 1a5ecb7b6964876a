// Opens an HTML report in headless Chromium (Debian's) and says, as JSON on stdout, what a
// reader sees: the groups and which are open, what each filter leaves visible, and how many
// pages the report prints to.
//
//   node report.mjs REPORT.html OUT.pdf
import { chromium } from 'playwright-core';

const [file, pdf] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
try {
  const page = await browser.newPage();
  const requests = [];
  page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
  await page.goto('file://' + file);
  const groups = () => page.$$eval('details.group', (ds) => ds.map((d) => ({
    classes: d.className,
    open: d.open,
    visible: d.getBoundingClientRect().height > 0,
    // the rows and the fix are drawn only in an open group
    rowsShown: d.querySelector('table.occ').getBoundingClientRect().height > 0,
  })));
  const all = await groups();
  const shown = async (label) => {
    await page.click(`label[for="${label}"]`);
    return (await groups()).filter((g) => g.visible).map((g) => g.classes);
  };
  const critical = await shown('f-sev-critical');
  const sca = await shown('f-sev-all').then(() => shown('f-type-sca'));
  const both = await shown('f-sev-high');
  await shown('f-type-all');
  await shown('f-sev-all');
  // a click on a closed group's title opens it
  const closed = await page.$('details.group:not([open]) > summary');
  await closed.click();
  const opened = await page.$$eval('details.group', (ds) => ds.filter((d) => d.open).length);
  await page.emulateMedia({ media: 'print' });
  const printed = await groups();
  const bytes = await page.pdf({ path: pdf, format: 'A4', printBackground: false });
  const pages = (bytes.toString('latin1').match(/\/Type\s*\/Page[^s]/g) || []).length;
  console.log(JSON.stringify({
    groups: all.length,
    open: all.filter((g) => g.open).map((g) => g.classes),
    critical,
    sca,
    scaHigh: both,
    openedByClick: opened - all.filter((g) => g.open).length,
    printedRows: printed.filter((g) => g.rowsShown).length,
    pages,
    requests,
  }));
} finally {
  await browser.close();
}

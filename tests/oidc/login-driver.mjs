// A browserless "browser" for login tests: given the authorization URL (as $BROWSER gets it),
// it follows the redirects with a cookie jar, fills the dev login and consent forms, and finally
// requests the loopback callback, as a person in a browser would.
//
// Env: DRIVER_MODE = login (default) | deny (answers the consent with access_denied) |
//      wrong-state (tampers with `state` on the way back) | forged-first (before the real
//      callback: an idle connection that sends nothing, a callback with a forged `state`, and an
//      `error=access_denied` with a forged `state`, as any local process or web page could) |
//      none (does nothing);
//      DRIVER_LOG = a file that receives the URLs visited (for assertions).
import fs from 'node:fs';
import net from 'node:net';

const start = process.argv[2];
const mode = process.env.DRIVER_MODE || 'login';
const log = (line) => { if (process.env.DRIVER_LOG) fs.appendFileSync(process.env.DRIVER_LOG, line + '\n'); };
log(`open ${start}`);
if (mode === 'none') process.exit(0);

const jar = new Map();
const remember = (res) => {
  for (const c of res.headers.getSetCookie?.() ?? []) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    jar.set(pair.slice(0, i).trim(), pair.slice(i + 1));
  }
};
const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
const isCallback = (u) => ['localhost', '127.0.0.1', '[::1]'].includes(new URL(u).hostname) && new URL(u).pathname === '/callback';

async function go(url, init = {}) {
  for (let hops = 0; hops < 20; hops += 1) {
    if (isCallback(url)) return { callback: url };
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers || {}), cookie: cookie() } });
    remember(res);
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location'), url).href;
      init = {};
      continue;
    }
    return { page: await res.text(), url };
  }
  throw new Error('too many redirects');
}

function form(page, base) {
  const action = page.match(/<form[^>]*action="([^"]+)"/)?.[1];
  if (!action) throw new Error(`no form on the page:\n${page.slice(0, 500)}`);
  return new URL(action.replace(/&amp;/g, '&'), base).href;
}

async function post(url, fields) {
  return go(url, { method: 'POST', body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
}

let step = await go(start);
while (!step.callback) {
  const page = step.page;
  if (/name="login"/.test(page)) {
    step = await post(form(page, step.url), { prompt: 'login', login: 'alice', password: 'any' });
  } else if (/name="prompt" value="consent"/.test(page) || /consent/i.test(page)) {
    if (mode === 'deny') {
      // The dev consent page has a "cancel" link that aborts the interaction with access_denied.
      const abort = page.match(/href="([^"]*\/abort)"/)?.[1];
      if (abort) { step = await go(new URL(abort.replace(/&amp;/g, '&'), step.url).href); continue; }
      const u = new URL(start);
      const cb = new URL(u.searchParams.get('redirect_uri'));
      cb.searchParams.set('error', 'access_denied');
      cb.searchParams.set('error_description', 'End-User aborted interaction');
      cb.searchParams.set('state', u.searchParams.get('state'));
      step = { callback: cb.href };
      continue;
    }
    step = await post(form(page, step.url), { prompt: 'consent' });
  } else {
    throw new Error(`unexpected page at ${step.url}:\n${page.slice(0, 500)}`);
  }
}
let callback = step.callback;
if (mode === 'wrong-state') {
  const u = new URL(callback);
  u.searchParams.set('state', 'forged-state');
  callback = u.href;
}
if (mode === 'forged-first') {
  const cb = new URL(callback);
  // An idle local connection that never sends a request.
  const idle = net.connect(Number(cb.port), cb.hostname === 'localhost' ? '127.0.0.1' : cb.hostname);
  idle.on('error', () => {});
  await new Promise((r) => setTimeout(r, 100));
  const forged = new URL(callback);
  forged.searchParams.set('state', 'forged-state');
  log(`forged-status ${(await fetch(forged.href)).status}`);
  const denied = new URL(cb.origin + cb.pathname);
  denied.searchParams.set('error', 'access_denied');
  denied.searchParams.set('state', 'forged-state');
  log(`forged-status ${(await fetch(denied.href)).status}`);
  setTimeout(() => idle.destroy(), 20000).unref();
}
log(`callback ${callback.replace(/code=[^&]+/, 'code=…')}`);
const res = await fetch(callback);
log(`callback-status ${res.status}`);
log(`callback-page ${(await res.text()).replace(/\s+/g, ' ').slice(0, 300)}`);

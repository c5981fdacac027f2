/**
 * What the viewer serves, and to whom (issue 14, finding 11): only requests that carry the token
 * of the URL it printed, only with a Host header naming it (a DNS-rebinding page sends its own
 * name), and only files whose real path lies inside the run directory, whatever a manifest says.
 * The run directory is made by hand: one step whose manifest lists a file, a path outside the run
 * and a symbolic link that leads out of it.
 */
import { request } from 'node:http';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Bytes, writeManifest } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startViewer, type Viewer } from '../src/index';

const SECRET = 'a secret outside the run';
let dir: string;
let viewer: Viewer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-viewer-security-'));
  const runDir = join(dir, 'run');
  await mkdir(join(runDir, 'step'), { recursive: true });
  await writeFile(join(dir, 'secret.txt'), SECRET);
  await writeFile(join(runDir, 'step', 'notes.md'), '# notes');
  await symlink(join(dir, 'secret.txt'), join(runDir, 'step', 'link.md'));
  const record = (port: string, path: string, text: string) => ({ port, kind: 'file' as const, path, sha256: sha256Bytes(text), bytes: text.length });
  const time = new Date(0).toISOString();
  await writeManifest(join(runDir, 'step'), {
    schemaVersion: 1,
    stage: { slot: 'demo', variant: 'notes', version: 1 },
    config: {},
    configHash: sha256Bytes('{}'),
    seed: 0,
    versions: {},
    inputs: [],
    // As an edited manifest could say: a file of the run, an absolute path outside it, a link out of it.
    outputs: [record('notes', 'step/notes.md', '# notes'), record('outside', join(dir, 'secret.txt'), SECRET), record('link', 'step/link.md', SECRET)],
    status: 'succeeded',
    startedAt: time,
    finishedAt: time,
    durationMs: 0,
  } as never);
  viewer = await startViewer(runDir);
});
afterAll(async () => {
  await viewer?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A GET with a Host header of our choosing (fetch always sends the URL's own). */
function get(path: string, host?: string): Promise<{ status: number; body: string; location?: string }> {
  const url = new URL(viewer.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers: { host: host ?? url.host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(res.headers.location === undefined ? {} : { location: res.headers.location }) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('view', () => {
  it('prints a URL with a random token, and answers nothing without it', async () => {
    const { pathname, host } = new URL(viewer.url);
    expect(viewer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{32}\/$/);
    expect((await get(pathname)).status).toBe(200);
    expect((await get(`${pathname}api/run`)).body).toContain('"id":"step"');
    expect((await get(pathname.slice(0, -1))).location).toBe(pathname);
    for (const path of ['/', '/api/run', '/api/step/step/file/notes', `/x${pathname.slice(2)}api/run`]) {
      const answer = await get(path);
      expect(answer.status, path).toBe(404);
      expect(answer.body).not.toContain('step');
    }
    expect((await get(`${pathname}api/run`, `localhost:${host.split(':')[1]}`)).status).toBe(200);
  });

  it('refuses a Host header that is not its own address (DNS rebinding)', async () => {
    const { pathname, port } = new URL(viewer.url);
    for (const host of [`attacker.example:${port}`, 'attacker.example', `127.0.0.1:${Number(port) + 1}`]) {
      const answer = await get(`${pathname}api/run`, host);
      expect(answer.status, host).toBe(403);
      expect(answer.body).not.toContain('step');
    }
  });

  it('serves a file only from inside the run directory, whatever the manifest says', async () => {
    const { pathname } = new URL(viewer.url);
    expect(await get(`${pathname}api/step/step/file/notes`)).toMatchObject({ status: 200, body: '# notes' });
    for (const port of ['outside', 'link']) {
      const answer = await get(`${pathname}api/step/step/file/${port}`);
      expect(answer.status, port).toBe(404);
      expect(answer.body).not.toContain(SECRET);
    }
  });
});

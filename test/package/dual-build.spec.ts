import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEtcd } from '../support/use-etcd.js';
import { ROOT, buildPackage } from './build.js';

const etcd = useEtcd();
let build: ReturnType<typeof buildPackage>;
beforeAll(() => {
  build = buildPackage('dual');
});
afterAll(() => build?.remove());

describe('one process loading both the ES module and the CommonJS build', () => {
  it('shares one library state: decorators, the gated-call and lock contexts and error classes', async () => {
    const election = `dual-${process.pid}`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['test/package/dual-process.mjs', build.dir, etcd().endpoints.join(','), election],
      { cwd: ROOT, timeout: 30_000 },
    );
    const findings = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(findings).toEqual({
      twoCopies: true,
      errors: {
        cjsIsEsmBase: true,
        cjsIsEsmSame: true,
        cjsIsEsmOther: false,
        esmIsCjsBase: true,
        esmIsCjsSame: true,
        esmIsCjsOther: false,
        plainIsBase: false,
        stillError: true,
      },
      gated: { returned: 'ran', sawTermSignal: true, onLeaderRan: true },
      unbound: { returned: 'ran', sawTermSignal: true },
      lock: { cjs: true, byName: true, afterwards: null },
      job: { heldLock: true },
      afterResign: { returned: null, signalAborted: true },
      guardError: { esm: true, cjs: true },
    });
  });
});

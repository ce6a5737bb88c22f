// One process that loads both builds of the library, as an ESM app with a CommonJS dependency
// does: the app's module comes from the ES module build, its job's decorators from the CommonJS
// one. Prints one JSON line of findings; the spec (dual-build.spec.ts) judges them.
// Usage: node dual-process.mjs <build dir> <etcd hosts> <election>
import 'reflect-metadata';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, hosts, election] = process.argv.slice(2);
const esm = await import(pathToFileURL(join(dir, 'index.js')).href);
const cjs = createRequire(import.meta.url)(join(dir, 'cjs', 'index.js'));
const { Injectable } = await import('@nestjs/common');
const { NestFactory } = await import('@nestjs/core');

const findings = { twoCopies: esm.ElectionModule !== cjs.ElectionModule };

// Errors of one copy are instances of the other's classes, and only of the right ones.
const fromCjs = new cjs.NotLeaderError(election, 'test');
const fromEsm = new esm.ValueTooLargeError(2, 1);
findings.errors = {
  cjsIsEsmBase: fromCjs instanceof esm.ElectionError,
  cjsIsEsmSame: fromCjs instanceof esm.NotLeaderError,
  cjsIsEsmOther: fromCjs instanceof esm.ValueTooLargeError,
  esmIsCjsBase: fromEsm instanceof cjs.ElectionError,
  esmIsCjsSame: fromEsm instanceof cjs.ValueTooLargeError,
  esmIsCjsOther: fromEsm instanceof cjs.LeadershipLostError,
  plainIsBase: new Error('x') instanceof cjs.ElectionError,
  stillError: fromCjs instanceof Error,
};

class Job {
  runs = [];
  led = [];
  work() {
    this.runs.push(cjs.currentLeaderSignal() ?? null);
    return 'ran';
  }
  lead(context) {
    this.led.push(context);
  }
  report() {
    return cjs.currentLock()?.name ?? null;
  }
}
const decorate = (decorator, key) => {
  const descriptor = Object.getOwnPropertyDescriptor(Job.prototype, key);
  Object.defineProperty(Job.prototype, key, decorator(Job.prototype, key, descriptor));
};
decorate(cjs.LeaderOnly(), 'work');
decorate(cjs.OnLeader(), 'lead');
decorate(cjs.WithoutOverlapping({ name: `${election}/report` }), 'report');
Injectable()(Job);

class AppModule {}
const { Module } = await import('@nestjs/common');
Module({
  imports: [esm.ElectionModule.forRoot({ etcd: { hosts }, election, value: 'dual', ttl: 2 })],
  providers: [Job],
})(AppModule);

const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
try {
  const service = app.get(esm.ElectionService);
  await service.waitForLeadership({ timeout: 10_000 });
  const job = app.get(Job);
  findings.gated = {
    returned: job.work(),
    sawTermSignal: job.runs[0] === service.signal && service.signal !== undefined,
    onLeaderRan: job.led.length === 1 && job.led[0].signal === service.signal,
  };
  // An object no application bound (made by hand) resolves through the running application.
  const unbound = new Job();
  findings.unbound = {
    returned: unbound.work(),
    sawTermSignal: unbound.runs[0] === service.signal,
  };
  // A lock held by the ES module copy's LockService is the CommonJS copy's currentLock().
  const locks = app.get(esm.LockService);
  const lockName = `${election}/lock`;
  const seen = await locks.withLock(lockName, lock => ({
    cjs: cjs.currentLock() === lock,
    byName: cjs.currentLock(lockName) === lock,
  }));
  findings.lock = { ...seen, afterwards: cjs.currentLock() ?? null };
  // The ES module copy's explorer bound the job: a CommonJS @WithoutOverlapping run holds its lock.
  findings.job = { heldLock: (await job.report()) === `${election}/report` };
  // The CommonJS copy's engine errors are caught as the ES module copy's classes.
  await service.resign();
  findings.afterResign = { returned: job.work() ?? null, signalAborted: job.led[0].signal.aborted };
  try {
    service.guard();
    findings.guardError = 'none';
  } catch (error) {
    findings.guardError = {
      esm: error instanceof esm.NotLeaderError,
      cjs: error instanceof cjs.NotLeaderError,
    };
  }
} finally {
  await app.close();
}
console.log(JSON.stringify(findings));

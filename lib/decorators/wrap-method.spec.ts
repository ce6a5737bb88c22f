import 'reflect-metadata';
import type { Logger } from '@nestjs/common';
import { describe, expect, it, vi } from 'vitest';
import { ElectionError } from '../core/index.js';
import { type WrapSpec, wrapMethod } from './wrap-method.js';

function spec(overrides: Partial<WrapSpec> = {}): WrapSpec & { warn: ReturnType<typeof vi.fn> } {
  const warn = vi.fn();
  return {
    notMethod: 'not a method',
    metadataKey: 'test:gate',
    metadata: { gate: 1 },
    logger: { warn } as unknown as Logger,
    call: (_self, run) => run(),
    warn,
    ...overrides,
  };
}

const Gate = (overrides: Partial<WrapSpec> = {}): MethodDecorator => {
  return (_target, _property, descriptor) => wrapMethod(descriptor, spec(overrides));
};
const Mark = (value: string): MethodDecorator => {
  return (_target, _property, descriptor) => {
    Reflect.defineMetadata('test:mark', value, descriptor.value as object);
  };
};

describe('wrapMethod', () => {
  it('runs the original with the call’s this and arguments, keeping its name and length', () => {
    class Job {
      factor = 3;
      @Gate()
      times(a: number, b: number): number {
        return this.factor * a * b;
      }
    }
    const job = new Job();
    expect(job.times(2, 5)).toBe(30);
    expect(Job.prototype.times.name).toBe('times');
    expect(Job.prototype.times.length).toBe(2);
    expect(Reflect.getMetadata('test:gate', Job.prototype.times)).toEqual({ gate: 1 });
  });

  it('carries the metadata of a decorator on either side', () => {
    class Job {
      @Mark('above')
      @Gate()
      above(): void {}

      @Gate()
      @Mark('below')
      below(): void {}
    }
    expect(Reflect.getMetadata('test:mark', Job.prototype.above)).toBe('above');
    expect(Reflect.getMetadata('test:mark', Job.prototype.below)).toBe('below');
    expect(Reflect.getMetadata('test:gate', Job.prototype.below)).toEqual({ gate: 1 });
  });

  it('warns once per method when its gate has nothing bound', () => {
    const gate = spec({
      call: (_self, _run, warnOnce) => {
        warnOnce(() => 'unbound');
        return undefined;
      },
    });
    const descriptor = wrapMethod({ value: () => 'ran' }, gate);
    expect(descriptor.value!()).toBeUndefined();
    expect(descriptor.value!()).toBeUndefined();
    expect(gate.warn.mock.calls).toEqual([['unbound']]);
  });

  it('refuses what is not a method, with the decorator’s message', () => {
    expect(() => wrapMethod({ value: 42 }, spec({ notMethod: '@Gate on Job.x' }))).toThrow(
      new ElectionError('@Gate on Job.x'),
    );
  });
});

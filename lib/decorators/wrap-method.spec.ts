import 'reflect-metadata';
import type { Logger } from '@nestjs/common';
import { describe, expect, it, vi } from 'vitest';
import { ElectionError } from '../core/index.js';
import { type WrapSpec, wrapMethod } from './wrap-method.js';

/** A gate that lets every call through, recording the labels it saw. */
function gate(overrides: Partial<WrapSpec> = {}) {
  const warn = vi.fn();
  const labels: string[] = [];
  const decorator = wrapMethod(label => {
    labels.push(label);
    return {
      notMethod: `@Gate on ${label}`,
      metadata: ['test:gate', { label }],
      logger: { warn } as unknown as Logger,
      gate: () => run => run(),
      unbound: () => 'unbound',
      skipped: () => 'skipped',
      ...overrides,
    };
  });
  return { decorator, warn, labels };
}

const Mark = (value: string): MethodDecorator => {
  return (_target, _property, descriptor) => {
    Reflect.defineMetadata('test:mark', value, descriptor.value as object);
  };
};

describe('wrapMethod', () => {
  it('runs the original with the call’s this and arguments, keeping its name and length', () => {
    const { decorator, labels } = gate();
    class Job {
      factor = 3;
      @decorator
      times(a: number, b: number): number {
        return this.factor * a * b;
      }
    }
    expect(new Job().times(2, 5)).toBe(30);
    expect(Job.prototype.times.name).toBe('times');
    expect(Job.prototype.times.length).toBe(2);
    expect(labels).toEqual(['Job.times']);
    expect(Reflect.getMetadata('test:gate', Job.prototype.times)).toEqual({ label: 'Job.times' });
  });

  it('carries the metadata of a decorator on either side', () => {
    const { decorator } = gate();
    class Job {
      @Mark('above')
      @decorator
      above(): void {}

      @decorator
      @Mark('below')
      below(): void {}
    }
    expect(Reflect.getMetadata('test:mark', Job.prototype.above)).toBe('above');
    expect(Reflect.getMetadata('test:mark', Job.prototype.below)).toBe('below');
    expect(Reflect.getMetadata('test:gate', Job.prototype.below)).toEqual({ label: 'Job.below' });
  });

  it('skips a call that has no gate, warning once per method', () => {
    const { decorator, warn } = gate({ gate: () => undefined });
    const original = vi.fn();
    class Job {
      @decorator
      run(): unknown {
        return original();
      }
    }
    const job = new Job();
    expect([job.run(), job.run()]).toEqual(['skipped', 'skipped']);
    expect(original).not.toHaveBeenCalled();
    expect(warn.mock.calls).toEqual([['unbound']]);
  });

  it('refuses what is not a method, with the decorator’s message', () => {
    const { decorator } = gate();
    class Job {}
    expect(() => decorator(Job.prototype, 'x', { value: 42 })).toThrow(
      new ElectionError('@Gate on Job.x'),
    );
  });
});

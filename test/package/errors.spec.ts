import { describe, expect, it } from 'vitest';
import {
  ElectionError,
  ElectionOptionsError,
  LeadershipLostError,
  NotLeaderError,
} from '../../lib/index.js';

// Across the two builds, see dual-build.spec.ts; here, instanceof within one copy is unchanged.
describe('instanceof on the error classes within one copy', () => {
  it('holds for the class, its bases and Error, and for nothing else', () => {
    const error = new NotLeaderError('jobs', 'proclaim');
    expect(error).toBeInstanceOf(NotLeaderError);
    expect(error).toBeInstanceOf(ElectionError);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(LeadershipLostError);
    expect(new Error('plain')).not.toBeInstanceOf(ElectionError);
    expect({ name: 'NotLeaderError' }).not.toBeInstanceOf(NotLeaderError);
    expect(null).not.toBeInstanceOf(ElectionError);
  });

  it('holds for subclasses of your own', () => {
    class JobError extends ElectionError {}
    const job = new JobError('job failed');
    expect(job).toBeInstanceOf(JobError);
    expect(job).toBeInstanceOf(ElectionError);
    expect(job.name).toBe('JobError');
    expect(new ElectionOptionsError('ttl', 0, 'more')).not.toBeInstanceOf(JobError);
  });
});

/**
 * The `ts` code blocks of the README, turned into files that type-check: a block that names its
 * file (`// app.module.ts`) keeps that name, so that the quick start's files import each other;
 * what a block uses without importing it (Nest's decorators, the library's exports, `election`)
 * comes from a prelude; a block of class members (`@OnLeader() lead() {}`) goes into a class.
 */
import { readFileSync } from 'node:fs';

/** One fenced `ts` block. */
export interface Snippet {
  /** 1-based README line of the block's first code line. */
  line: number;
  code: string;
}

/** A generated file and where its lines come from. */
export interface SnippetFile {
  name: string;
  text: string;
  snippet: Snippet;
  /** Lines added before the snippet's first line. */
  offset: number;
}

export function readSnippets(path: string): Snippet[] {
  const text = readFileSync(path, 'utf8');
  const snippets: Snippet[] = [];
  for (const match of text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    const line = text.slice(0, match.index).split('\n').length + 1;
    snippets.push({ line, code: match[1] });
  }
  return snippets;
}

/** What a block may use without importing it, by module. */
const PRELUDE: Record<string, string[]> = {
  '@nestjs/common': [
    'Controller',
    'Get',
    'HttpCode',
    'Inject',
    'Injectable',
    'Logger',
    'Module',
    'Post',
    'UseGuards',
  ],
  '@nestjs/core': ['NestFactory'],
  '@nestjs/config': ['ConfigModule', 'ConfigService'],
  '@nestjs/schedule': ['Cron', 'Interval', 'ScheduleModule', 'Timeout'],
  '@nestjs/terminus': ['HealthCheck', 'HealthCheckService', 'TerminusModule'],
  'nestjs-etcd-election/health': ['ElectionHealthIndicator'],
};

/** Types of the library a block may use without importing them. */
const LIBRARY_TYPES = [
  'BackoffOptions',
  'ElectionModuleAsyncOptions',
  'ElectionModuleFactoryOptions',
  'ElectionModuleOptions',
  'ElectionOptionsFactory',
  'FencingToken',
  'FencingTokenLike',
  'Handover',
  'LeaderContext',
  'LeaderInfo',
  'LeaderTerm',
  'Leadership',
  'LeadershipReason',
  'NotLeaderResponse',
  'Participant',
  'Role',
];

/** Things a block talks about without defining them, as what they are in a real app. */
const AMBIENT: Record<string, string> = {
  election: 'declare const election: ElectionService;',
  etcd: "declare const etcd: import('etcd3').IOptions;",
  metrics: 'declare const metrics: { gauge(name: string, value: number): void };',
  cursor: 'declare const cursor: string;',
};

function names(pattern: RegExp, code: string): Set<string> {
  const found = new Set<string>();
  for (const match of code.matchAll(pattern)) {
    for (const name of match[1].split(',')) {
      const clean = name
        .replace(/\btype\s+/, '')
        .split(/\s+as\s+/)
        .at(-1)!
        .trim();
      if (clean) found.add(clean);
    }
  }
  return found;
}

/** Turns the blocks into files; `libraryValues` are the runtime exports of the library. */
export function snippetFiles(snippets: Snippet[], libraryValues: string[]): SnippetFile[] {
  return snippets.map((snippet, index) => {
    const code = snippet.code;
    const named = /^\/\/ ([\w.-]+\.ts)\n/.exec(code)?.[1];
    const imported = names(/^import\s+(?:type\s+)?\{([^}]*)\}\s+from/gm, code);
    const defined = new Set(
      [...code.matchAll(/\b(?:class|const|let|function|interface)\s+(\w+)/g)].map(m => m[1]),
    );
    const free = (name: string) => !imported.has(name) && !defined.has(name);
    const prelude: string[] = [];
    for (const [module, members] of Object.entries(PRELUDE)) {
      const wanted = members.filter(free);
      if (wanted.length) prelude.push(`import { ${wanted.join(', ')} } from '${module}';`);
    }
    const values = libraryValues.filter(free);
    const types = LIBRARY_TYPES.filter(free);
    if (values.length) prelude.push(`import { ${values.join(', ')} } from 'nestjs-etcd-election';`);
    if (types.length) {
      prelude.push(`import type { ${types.join(', ')} } from 'nestjs-etcd-election';`);
    }
    for (const [name, declaration] of Object.entries(AMBIENT)) {
      if (free(name) && new RegExp(`\\b${name}\\b`).test(code)) prelude.push(declaration);
    }

    const firstCode = code.split('\n').find(line => line.trim() && !line.trim().startsWith('//'));
    const members = firstCode?.trim().startsWith('@') && !/^\s*(export\s+)?class\s/m.test(code);
    const usesThis = !members && !/^\s*(export\s+)?class\s/m.test(code) && /\bthis\./.test(code);
    let body = code;
    let offset = Math.max(prelude.length, 1);
    if (members || usesThis) {
      const open = `export class Snippet${index} {\n  [key: string]: any;`;
      body = members
        ? `${open}\n${code}}\n`
        : `${open}\n  async snippet(): Promise<void> {\n${code}  }\n}\n`;
      offset += members ? 2 : 3;
    }
    const text = `${prelude.join('\n')}\n${body}\nexport {};\n`;
    return { name: named ?? `snippet-${index}.ts`, text, snippet, offset };
  });
}

/**
 * The bench's bare Nest app: `sample/01-scheduler` without the election module, for the memory
 * comparison. Prints `READY` once listening on `PORT`.
 */
import { NestFactory } from '@nestjs/core';
import { BareAppModule } from './app.module.js';

const app = await NestFactory.create(BareAppModule);
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT ?? 3000));
process.stdout.write('READY\n');

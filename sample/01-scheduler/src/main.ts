import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { port } from './config.js';

async function bootstrap() {
  const app = await NestFactory.create(AppModule);
  // On SIGTERM/SIGINT: abort the leader's work, resign and revoke, so another replica leads at once.
  app.enableShutdownHooks();
  await app.listen(port());
}

void bootstrap();

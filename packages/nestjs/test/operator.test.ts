import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { describeOperatorMountConformance } from '@threadline/conformance';
import type { Request } from 'express';
import { ThreadlineModule, ThreadlineOperatorModule } from '../src/index.js';
import { listen } from './app.js';

describeOperatorMountConformance({
  name: '@threadline/nestjs ThreadlineOperatorModule (Express platform)',
  start({ tl, basePath, authorize }) {
    @Module({
      imports: [
        ThreadlineModule.forRoot({ threadline: tl }),
        ThreadlineOperatorModule.forRoot<Request>({
          threadline: tl,
          path: basePath,
          authorize: (req) => authorize((n) => req.get(n)),
        }),
      ],
    })
    class AppModule {}
    return listen(AppModule);
  },
});

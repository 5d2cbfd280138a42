import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { ActorRef, setAuditActor } from '@threadline/core';
import type { Request } from 'express';

/** Stand-in for real authentication (a JWT or Passport guard): the caller's user id is in x-user-id. */
@Injectable()
export class UserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const userId = context.switchToHttp().getRequest<Request>().get('x-user-id');
    if (!userId) throw new UnauthorizedException('send an x-user-id header');
    // ThreadlineModule's middleware opened this request's audit context; the guard names its actor.
    setAuditActor(ActorRef.user(userId));
    return true;
  }
}

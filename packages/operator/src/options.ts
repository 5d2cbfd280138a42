import { ActorRef, type Threadline, ThreadlineError } from '@threadline/core';

/** What a signed-in operator may do. Viewing is always allowed once authorized. */
export interface OperatorGrant {
  /** Who is looking: exports and prunes are recorded as audit actions by this actor. */
  actor: ActorRef;
  canExport?: boolean;
  canPrune?: boolean;
  canSeeCoverage?: boolean;
  canSeePolicy?: boolean;
}

/**
 * Decides who may use the surface, from the framework's own request (so `req.user` from a
 * session or passport is at hand). Return false for "no" (403), or a grant. May be async.
 */
export type Authorize<R> = (request: R) => OperatorGrant | false | Promise<OperatorGrant | false>;

export interface OperatorSurfaceOptions<R = Request> {
  threadline: Threadline;
  /** Required unless allowUnauthenticated (refused when NODE_ENV=production). */
  authorize?: Authorize<R>;
  /** Serve without authorization: for a local demo bound to 127.0.0.1 only. */
  allowUnauthenticated?: boolean;
  /** Where the surface is mounted, e.g. "/audit" (default "/"). */
  basePath?: string;
  /** The prefix a browser sees when a reverse proxy adds one (default: basePath). */
  publicPath?: string;
  /** Secret for CSRF tokens when several processes serve one surface (default: random per process). */
  csrfSecret?: string;
  /** Coverage poll interval in seconds (default 30, at least 5). */
  pollSeconds?: number;
}

export interface ResolvedOptions<R> {
  threadline: Threadline;
  authorize: Authorize<R>;
  basePath: string;
  publicPath: string;
  csrfSecret: string | undefined;
  pollSeconds: number;
}

const WHERE = 'createOperatorSurface';

/** Normalise "/audit/", "audit", "/" to "/audit", "/audit", "". */
function normalisePath(value: unknown, name: string): string {
  if (value === undefined) return '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (typeof value !== 'string' || /[\s?#\\]|\/\/|\.\.|[\u0000-\u001f\u007f]/.test(value)) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${WHERE}: ${name} must be a plain URL path like "/audit" (no spaces, query, fragment, "..", or "//")`,
    );
  }
  const trimmed = value.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `/${trimmed}`;
}

export function resolveOptions<R>(options: OperatorSurfaceOptions<R>): ResolvedOptions<R> {
  if (typeof options !== 'object' || options === null || typeof options.threadline !== 'object') {
    throw new ThreadlineError('CONFIG_INVALID', `${WHERE}: pass { threadline: tl, authorize }`);
  }
  let authorize = options.authorize;
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${WHERE}: authorize must be a function (request) => grant | false`,
    );
  }
  if (!authorize) {
    if (options.allowUnauthenticated !== true) {
      throw new ThreadlineError(
        'UNSAFE_MOUNT',
        `${WHERE}: no authorize callback. Pass authorize: (req) => req.user?.isAdmin ? { actor: ActorRef.user(req.user.id) } : false — or allowUnauthenticated: true for a local demo only`,
      );
    }
    if (process.env.NODE_ENV === 'production') {
      throw new ThreadlineError(
        'UNSAFE_MOUNT',
        `${WHERE}: allowUnauthenticated is refused when NODE_ENV=production; pass an authorize callback`,
      );
    }
    const local: OperatorGrant = {
      actor: ActorRef.system('operator-local'),
      canExport: true,
      canSeeCoverage: true,
      canSeePolicy: true,
      canPrune: false,
    };
    authorize = () => local;
  }
  const poll = options.pollSeconds ?? 30;
  if (typeof poll !== 'number' || !Number.isFinite(poll) || poll < 5 || poll > 3600) {
    throw new ThreadlineError('CONFIG_INVALID', `${WHERE}: pollSeconds must be a number from 5 to 3600`);
  }
  if (
    options.csrfSecret !== undefined &&
    (typeof options.csrfSecret !== 'string' || options.csrfSecret.length < 16)
  ) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${WHERE}: csrfSecret must be a string of at least 16 characters`,
    );
  }
  const basePath = normalisePath(options.basePath, 'basePath');
  const publicPath =
    options.publicPath === undefined ? basePath : normalisePath(options.publicPath, 'publicPath');
  return {
    threadline: options.threadline,
    authorize,
    basePath,
    publicPath,
    csrfSecret: options.csrfSecret,
    pollSeconds: poll,
  };
}

/** Check what authorize returned: false, or a grant with a valid actor. */
export function checkGrant(value: unknown): OperatorGrant | false {
  if (value === false || value === null || value === undefined) return false;
  if (typeof value !== 'object') {
    throw new ThreadlineError(
      'CALLBACK_FAILED',
      'authorize must return false or a grant { actor, canExport?, ... }',
    );
  }
  const grant = value as OperatorGrant;
  const actor = ActorRef.parse(grant.actor);
  return {
    actor,
    canExport: grant.canExport === true,
    canPrune: grant.canPrune === true,
    canSeeCoverage: grant.canSeeCoverage === true,
    canSeePolicy: grant.canSeePolicy === true,
  };
}

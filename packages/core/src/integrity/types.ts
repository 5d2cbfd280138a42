/** The audit relations a seal covers, in the order a seal run takes them. */
export const SEALED_RELATIONS = ['audit_transactions', 'audit_changes'] as const;
export type SealedRelation = (typeof SEALED_RELATIONS)[number];

export interface SealOptions {
  /** Ids per chain link (default 50,000; from 100 to 1,000,000). */
  chunkSize?: number;
  /**
   * How long to wait for transactions that were in progress when the seal started (their rows
   * may still commit below rows already visible); default 2000 ms, 0 to not wait. Rows they may
   * hold are left for a later seal, never sealed early.
   */
  waitMs?: number;
  /** Called after every link (progress output). */
  onLink?: (link: SealLink) => void;
}

export interface SealLink {
  /** Position in the chain (the seal row's id). */
  id: string;
  relation: SealedRelation;
  /** Ids after `from` up to and including `to`. */
  from: string;
  to: string;
  rowCount: number;
  /** This link's hash (hex): sha256 over the link's fields and the previous link's hash. */
  hash: string;
}

export interface SealResult {
  /** Links written by this run, in chain order. */
  links: SealLink[];
  /** Rows sealed by this run (all relations). */
  sealedRows: number;
  /** The highest sealed id per relation after this run. */
  sealedThrough: Record<SealedRelation, string>;
  /**
   * Ids allocated but not sealable yet, because a transaction that may hold some of them was
   * still in progress, or (`unkeyedChange`) a change written before table ids is not keyed yet
   * (a later seal takes them, after `threadline storage maintain` keyed it). Null when everything
   * allocated is sealed.
   */
  pending: {
    changesThrough: string;
    transactionsThrough: string;
    openTransactions: number;
    /** The first change still without table id and key hash: seals stop before it until storage maintain keys it. */
    unkeyedChange: string | null;
  } | null;
  /** The chain's head after this run (hex), null when nothing is sealed. */
  headHash: string | null;
  durationMs: number;
}

export interface IntegrityVerifyOptions {
  /** Only links holding rows captured at or after this instant (ISO 8601 or Date). */
  from?: Date | string;
  /** Only links holding rows captured before this instant. */
  to?: Date | string;
  /** Most findings listed (counts stay exact); default 1000, at most 100,000. */
  maxFindings?: number;
}

export type IntegrityFindingKind =
  | 'altered'
  | 'inserted'
  | 'removed'
  | 'purged'
  | 'seal_altered'
  | 'seal_removed'
  | 'chain_broken';

export interface IntegrityFinding {
  kind: IntegrityFindingKind;
  relation: SealedRelation | 'integrity_seals';
  /** The audit row's id (or the seal's, for seal findings). */
  id: string;
  /** For audit_changes rows: the table and key as sealed (removed) or as stored now. */
  table?: string;
  pk?: unknown;
  /** When the row was captured (changes) or occurred (transactions), as sealed. */
  at?: string;
  /** The seal (chain link) whose range holds the row. */
  sealId?: string;
  /** For `purged`: the retention run that removed it. */
  retentionRunId?: string;
  message: string;
}

export interface IntegrityVerifyResult {
  /** True when nothing was altered, inserted or removed and the chain is whole (purges are fine). */
  ok: boolean;
  verificationId: string;
  checkedAt: string;
  from: string | null;
  to: string | null;
  sealsChecked: number;
  rowsChecked: number;
  /** Findings by kind (exact, even when the list is capped). */
  counts: Record<IntegrityFindingKind, number>;
  findings: IntegrityFinding[];
  findingsTruncated: boolean;
  /** Rows above the last seal (captured but not sealed yet), per relation. */
  unsealed: Record<SealedRelation, number>;
  headSealId: string | null;
  headHash: string | null;
}

export interface IntegrityStatus {
  lastSeal: {
    id: string;
    sealedAt: string;
    hash: string;
    sealedThrough: Record<SealedRelation, string>;
  } | null;
  lastVerification: {
    id: string;
    status: 'running' | 'ok' | 'failed' | 'error';
    startedAt: string;
    finishedAt: string | null;
    from: string | null;
    to: string | null;
    sealsChecked: number;
    rowsChecked: number;
    findings: number;
    counts: Partial<Record<IntegrityFindingKind, number>>;
  } | null;
}

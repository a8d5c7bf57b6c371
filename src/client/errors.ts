/** A remediation refused an approve/reject request (nothing waits for approval, or the request was invalid). */
export class ApprovalRefusedError extends Error {
  override readonly name = 'ApprovalRefusedError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

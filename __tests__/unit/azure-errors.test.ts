import { describe, expect, it } from 'vitest';
import { azureError, type Failure, failureOf, HttpError, hintFor } from '../../src/azure/call.js';
import { AzureError, type Service } from '../../src/errors.js';
import { DeadlineError } from '../../src/retry.js';

const f = (status: number | undefined, code?: string, message = 'refused'): Failure => ({
  status,
  code,
  message,
});

describe('hintFor: the causes a refusal really has on each service', () => {
  const rows: [Service, Failure, RegExp | undefined][] = [
    ['Storage', f(403, 'AuthorizationFailure'), /firewall refuses this runner/],
    ['Storage', f(403, 'KeyBasedAuthenticationNotPermitted'), /shared keys disabled/],
    ['Storage', f(403, 'AuthorizationPermissionMismatch'), /Storage Blob Data Contributor/],
    ['Storage', f(403, 'AuthorizationPermissionDenied'), /Storage Blob Data Contributor/],
    ['Storage', f(403, 'AuthenticationFailed'), /storage key is current/],
    ['Storage', f(404, 'ContainerNotFound'), /storage-container/],
    ['Storage', f(404, 'BlobNotFound'), undefined],
    ['Storage', f(500), undefined],
    ['Kudu', f(404, undefined, 'POST /api/zipdeploy: Not Found'), /Flex Consumption/],
    ['Kudu', f(404, undefined, 'GET /api/deployments/latest'), undefined],
    ['Kudu', f(403, undefined, 'Ip Forbidden'), /access restrictions/],
    ['Kudu', f(403, undefined, 'Forbidden'), /refused the credentials/],
    ['Kudu', f(401), /refused the credentials/],
    ['Kudu', f(409), undefined],
    ['ARM', f(401), /azure\/login/],
    ['ARM', f(403), /Website Contributor/],
    ['ARM', f(404), /app-name, resource-group/],
    ['ARM', f(409), undefined],
    ['Functions host', f(403), undefined],
  ];
  it.each(rows)('%s %o', (service, failure, hint) => {
    const got = hintFor(service, failure);
    if (hint) expect(got).toMatch(hint);
    else expect(got).toBeUndefined();
  });
});

describe('failureOf and azureError: what the user reads', () => {
  it('keeps status, code and the first line, with the SAS signature redacted', () => {
    const error = Object.assign(
      new Error(
        'Server failed https://a.blob.core.windows.net/c/p.zip?sv=2022-11-02&sig=SECRETSIG%3D\nstack',
      ),
      { statusCode: 403, code: 'AuthorizationFailure' },
    );
    const got = azureError('Storage', 'upload the package', error);
    expect(got).toBeInstanceOf(AzureError);
    expect(got.message).toMatch(
      /^Failed to upload the package \(HTTP 403 AuthorizationFailure\): Server failed/,
    );
    expect(got.message).not.toContain('SECRETSIG');
    expect(got.message).not.toContain('stack');
    expect(got.fix).toMatch(/firewall/);
  });

  it('takes the storage code from details.errorCode (HEAD errors have no body)', () => {
    const error = Object.assign(new Error('Unexpected status code: 403'), {
      statusCode: 403,
      code: 'REST_ERROR',
      details: { errorCode: 'KeyBasedAuthenticationNotPermitted' },
    });
    expect(failureOf(error)).toMatchObject({ status: 403, code: 'KeyBasedAuthenticationNotPermitted' });
  });

  it('drops Node system codes (ECONNRESET) as service codes', () => {
    const error = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(failureOf(error)).toEqual({ status: undefined, code: undefined, message: 'socket hang up' });
  });

  it('says the timeout and the last answer for a deadline error', () => {
    const last = new HttpError(503, 'ServiceUnavailable', 'busy');
    const got = failureOf(new DeadlineError('deadline', last));
    expect(got).toEqual({
      status: 503,
      code: 'ServiceUnavailable',
      message: 'no answer before the timeout (last: busy)',
    });
  });

  it('passes an AzureError through unchanged', () => {
    const inner = new AzureError('Failed to list', { fix: 'keep' });
    expect(azureError('ARM', 'other', inner)).toBe(inner);
  });
});

import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metadataPathFor } from '../../src/policy/model-metadata';
import { reexportModel } from '../../training/reexport';

jest.setTimeout(60_000);

const MODEL = join(__dirname, '..', '..', 'models', 'policy.onnx');

describe('talon model reexport', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'talon-reexport-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function copy(name: string): Promise<string> {
    const path = join(dir, `${name}.onnx`);
    await copyFile(MODEL, path);
    await copyFile(metadataPathFor(MODEL), metadataPathFor(path));
    return path;
  }

  it('leaves a model already in the current layout byte-identical, metadata included', async () => {
    const path = await copy('current');
    const [bytes, metadata] = await Promise.all([readFile(path), readFile(metadataPathFor(path), 'utf8')]);
    const result = await reexportModel(path, 200);
    expect(result.maxDifference).toBe(0);
    expect(result.after).toEqual(result.before);
    expect(await readFile(path)).toEqual(bytes);
    expect(await readFile(metadataPathFor(path), 'utf8')).toBe(metadata);
  });

  it('refuses a file that does not match its metadata checksum, and writes nothing', async () => {
    const path = await copy('corrupt');
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(path, bytes);
    await expect(reexportModel(path, 10)).rejects.toThrow(/does not match the checksum/);
    expect(await readFile(path)).toEqual(bytes);
  });
});

// Typed errors for bad input. Each names the file (and tensor, where there is one) and says what
// to do next. Everything downstream (CLI, engine API) reports `.message` as is.

export class WebMoeError extends Error {
  /** stable machine-readable code, e.g. for the CLI's JSON error output */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A checkpoint or package file is malformed: truncated, lying header, wrong shape, bad dtype. */
export class CheckpointError extends WebMoeError {
  readonly file: string;
  readonly tensor?: string;
  constructor(file: string, message: string, tensor?: string) {
    super(
      'checkpoint_invalid',
      `${file}${tensor ? ` (tensor "${tensor}")` : ''}: ${message}`,
    );
    this.file = file;
    this.tensor = tensor;
  }
}

/** A tensor the architecture needs is absent from the checkpoint. */
export class MissingTensorError extends WebMoeError {
  readonly tensor: string;
  constructor(tensor: string, where: string) {
    super(
      'tensor_missing',
      `tensor "${tensor}" not found in ${where}. The checkpoint is incomplete or of another ` +
        `architecture: check that every *.safetensors shard is present and that config.json matches.`,
    );
    this.tensor = tensor;
  }
}

/** config.json names a model_type (or a feature) that no adapter handles. */
export class UnsupportedModelError extends WebMoeError {
  constructor(message: string) {
    super('model_unsupported', message);
  }
}

/** config.json is present but a field is missing or out of range. */
export class ConfigError extends WebMoeError {
  readonly file: string;
  constructor(file: string, message: string) {
    super('config_invalid', `${file}: ${message}`);
    this.file = file;
  }
}

/** A blob's bytes do not match the sha256 the manifest records. */
export class IntegrityError extends WebMoeError {
  readonly file: string;
  constructor(file: string, expected: string, actual: string) {
    super(
      'integrity',
      `${file}: sha256 mismatch (expected ${expected.slice(0, 16)}…, got ${actual.slice(0, 16)}…). ` +
        `The file is corrupt or truncated: download or convert the package again.`,
    );
    this.file = file;
  }
}

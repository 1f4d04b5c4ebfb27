/**
 * The few error classes allcnn throws. Every message names what was wrong,
 * what was expected and, where there is one, what to do about it.
 */

/** A bad argument or option: wrong type, range or shape. */
export class InvalidArgumentError extends TypeError {
  override name = 'InvalidArgumentError';
}

/** A data file that is missing, truncated, foreign or corrupt. */
export class DataError extends Error {
  override name = 'DataError';
}

/**
 * The other CIFAR data set given where one was asked for (CIFAR-100 for
 * CIFAR-10, say). `identified` says what the data are without the advice on
 * which command takes them, for a caller whose advice differs (predict).
 */
export class OtherDataSetError extends DataError {
  constructor(message: string, readonly identified: string) {
    super(message);
  }
}

/** LibTorch or the native addon could not be loaded or used. */
export class BackendError extends Error {
  override name = 'BackendError';
}

/** A checkpoint that is corrupt or does not match the run. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** A malformed network declaration; the message names the layer. */
export class ModelDeclarationError extends Error {
  override name = 'ModelDeclarationError';
}

/**
 * cage as a library: the chunker core and the age engine, driven by events.
 *
 * ```js
 * import {encryptFile, JobEmitter, ControlProxy} from 'cage';
 * const emitter = new JobEmitter();
 * emitter.on('chunk:done', event => console.log(event.chunk, event.bytesDone));
 * const result = await encryptFile('big.tar', 'big.tar.age', {recipients: ['age1…']}, {
 * 	emitter, control: new ControlProxy(), jobs: 4, chunkSize: 16 * 2 ** 20, checkpoint: true,
 * });
 * ```
 */
export * from './chunker/events.js';
export {JobEmitter, newJobId} from './chunker/emitter.js';
export {planChunks, chunkAt, chunkCount, defaultChunkSize, type Chunk} from './chunker/plan.js';
export {ChunkRunner, type ChunkRunnerOptions, type RunResult, type RunOutcome} from './chunker/runner.js';
export type {ChunkProcessor, ChunkInput, ChunkOutput, ChunkContext, ChunkResult} from './chunker/processor.js';
export {SharedControl, AbortedError} from './chunker/control.js';
export {CheckpointStore, CheckpointError, parseCheckpoint, type Checkpoint} from './chunker/checkpoint.js';
export {ControlProxy} from './jobs/control-proxy.js';
export {runHashJob, type HashJobOptions, type HashJobResult} from './jobs/hash-job.js';
export {encryptFile, decryptFile, resumeFile, type AgeJobOptions, type AgeJobResult, type EncryptTarget, type DecryptKey} from './age/engine.js';
export {encryptStream, decryptStream, type StreamJobOptions, type StreamJobResult} from './age/streams.js';
export {verifyFile, verifyArmoredFile, type VerifyOptions, type VerifyResult, type BadBlock} from './age/verify.js';
export {AgeReaderAt, resolveRange} from './age/random-access.js';
export {jsonReporter, plainReporter} from './progress/reporters.js';
export {parseSize, formatBytes, formatRate} from './size.js';
export {
	readRegistry,
	writeRegistry,
	updateRegistry,
	withRegistryLock,
	parseRegistry,
	registryVersion,
	BackupError,
	type Registry,
	type SourceEntry,
	type Generation,
	type GenerationStatus,
} from './backup/registry.js';
export {readManifests, buildManifest, checkAgainstManifest, cipherPlan, manifestVersion, type Manifests, type GenerationManifest, type ManifestChunk, type ManifestCheck} from './backup/manifest.js';
export {expiredGenerations, type RetentionPolicy} from './backup/retention.js';
export {startGeneration, finishGeneration} from './backup/generations.js';
export {prune, type PruneReport} from './backup/prune.js';
export {verifyGeneration, recordFindings, type VerifyFinding} from './backup/verify.js';
export {runBackupVerify, type BackupVerifyTarget, type BackupVerifyResult} from './backup/verify-job.js';
export {readVerifyCheckpoint, verifyCheckpointPath, findVerifyCheckpoints, verifyCheckpointVersion, type VerifyCheckpoint, type VerifyTargetProgress} from './backup/verify-checkpoint.js';

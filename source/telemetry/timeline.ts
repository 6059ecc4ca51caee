/**
 * The rate over a job's whole time at a fixed size: bytes per span of `spanMs`, with marks for
 * what the job was doing then. When the spans fill up, pairs are merged and the span doubles, so
 * an hour-long job and a ten-second one both fit in `timelineSpans` numbers.
 */

/** Bits of a span's mark. */
export const TimelineMark = {
	/** The job was paused during (part of) the span. */
	paused: 1,
	/** A stall was reported in the span. */
	stall: 2,
	/** The job was outside its main phase (opening, verifying, syncing, renaming). */
	side: 4,
} as const;

/** The most spans a timeline holds (a 200-column chart shows every one). */
export const timelineSpans = 512;

export type Timeline = {
	/** ts of the first span's start. */
	start: number;
	/** Length of a span, ms (1000, doubling as the job grows). */
	spanMs: number;
	/** Bytes done in each span. */
	bytes: number[];
	/** TimelineMark bits of each span. */
	marks: number[];
	/** ts of the latest sample (the last span's rate is over the part of it that has passed). */
	lastTs: number;
};

export function createTimeline(start: number): Timeline {
	return {start, spanMs: 1000, bytes: [], marks: [], lastTs: start};
}

/** Merge pairs of spans until `ts` falls inside the capacity. */
function spanAt(timeline: Timeline, ts: number): number {
	let index = Math.floor((ts - timeline.start) / timeline.spanMs);
	while (index >= timelineSpans) {
		const {bytes, marks} = timeline;
		const half = Math.ceil(bytes.length / 2);
		for (let i = 0; i < half; i++) {
			bytes[i] = bytes[2 * i]! + (bytes[2 * i + 1] ?? 0);
			marks[i] = marks[2 * i]! | (marks[2 * i + 1] ?? 0);
		}

		bytes.length = half;
		marks.length = half;
		timeline.spanMs *= 2;
		index = Math.floor((ts - timeline.start) / timeline.spanMs);
	}

	while (timeline.bytes.length <= index) {
		timeline.bytes.push(0);
		timeline.marks.push(0);
	}

	return Math.max(0, index);
}

/** Count `bytes` done at `ts` (negative counts are dropped) and OR `mark` into its span. */
export function addToTimeline(timeline: Timeline, ts: number, bytes: number, mark = 0): void {
	if (ts < timeline.start) ts = timeline.start;
	const index = spanAt(timeline, ts);
	if (bytes > 0) timeline.bytes[index]! += bytes;
	timeline.marks[index]! |= mark;
	if (ts > timeline.lastTs) timeline.lastTs = ts;
}

/** OR `mark` into every span from `from` to `to`. */
export function markTimeline(timeline: Timeline, from: number, to: number, mark: number): void {
	addToTimeline(timeline, to, 0, 0);
	const first = Math.max(0, Math.floor((from - timeline.start) / timeline.spanMs));
	const last = Math.floor((to - timeline.start) / timeline.spanMs);
	for (let index = first; index <= last && index < timeline.marks.length; index++) timeline.marks[index]! |= mark;
}

/** One column of a chart: a rate (bytes/s) and the marks of the spans it covers. */
export type TimelineColumn = {rate: number; mark: number};

/**
 * The timeline as at most `width` columns, oldest first: one span per column while they fit,
 * else consecutive spans averaged into each column. The last span's rate counts only the time of
 * it that has passed.
 */
export function timelineColumns(timeline: Timeline, width: number): {columns: TimelineColumn[]; spanMs: number} {
	const count = timeline.bytes.length;
	if (count === 0 || width <= 0) return {columns: [], spanMs: timeline.spanMs};
	const per = Math.max(1, Math.ceil(count / width));
	const columns: TimelineColumn[] = [];
	for (let from = 0; from < count; from += per) {
		const to = Math.min(count, from + per);
		let bytes = 0;
		let mark = 0;
		for (let index = from; index < to; index++) {
			bytes += timeline.bytes[index]!;
			mark |= timeline.marks[index]!;
		}

		const spanStart = timeline.start + from * timeline.spanMs;
		const full = (to - from) * timeline.spanMs;
		// A span just begun is not a rate yet: at least half a second (or the whole span).
		const ms = Math.min(full, Math.max(Math.min(full, 500), timeline.lastTs - spanStart));
		columns.push({rate: (bytes * 1000) / Math.max(1, ms), mark});
	}

	return {columns, spanMs: timeline.spanMs * per};
}

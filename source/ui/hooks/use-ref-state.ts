import {useCallback, useRef, useState, type MutableRefObject} from 'react';

/**
 * State that key handlers can read at once: keys may arrive faster than renders, so a handler
 * reads the ref, which `set` updates along with the state.
 */
export function useRefState<T>(initial: T): [T, (value: T) => void, MutableRefObject<T>] {
	const [value, setValue] = useState(initial);
	const ref = useRef(initial);
	const set = useCallback((next: T) => {
		ref.current = next;
		setValue(next);
	}, []);
	return [value, set, ref];
}

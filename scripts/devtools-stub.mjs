// Stands in for react-devtools-core in the dashboard bundle (see bundle.mjs).
export default {connectToDevTools() {}};

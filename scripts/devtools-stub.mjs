// Stands in for react-devtools-core in the dashboard bundle (see bundle-ui.mjs).
export default {connectToDevTools() {}};

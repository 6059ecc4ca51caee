/**
 * Loaded before React and Ink: use React's production build unless the environment says
 * otherwise (tests set NODE_ENV=test). The development build checks every render and costs the
 * dashboard several times the CPU.
 */
process.env.NODE_ENV ??= 'production';

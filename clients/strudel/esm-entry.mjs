// Node reads a package's "main"; @kabelsalat/web (a dependency of @strudel/core) names its ES module
// build under "module", which bundlers such as Strudel's own read. Point Node at that build.
import { register } from 'node:module';

register('data:text/javascript,' + encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier === '@kabelsalat/web') {
    const main = await next(specifier, context);
    return { ...main, url: main.url.replace(/index\\.js$/, 'index.mjs') };
  }
  return next(specifier, context);
}`));

// Child-process entry of the stack synthesis (local/runner/template.ts): loading aws-cdk-lib and
// synthesizing block a thread for 10-30 s, so local mode runs them here and keeps printing progress.
// Input: argv[2] = project root, argv[3] = context JSON. Output: the template as JSON on stdout.
import { synthesizeAppTemplate } from '../esm/settings.ts';

const [projectRoot, contextJson = '{}'] = process.argv.slice(2);
const template = await synthesizeAppTemplate({
  ...(projectRoot ? { projectRoot } : {}),
  context: JSON.parse(contextJson) as Record<string, unknown>,
});
process.stdout.write(JSON.stringify(template));

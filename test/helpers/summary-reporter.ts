// Ends a run with one plain line, "Tests: N passed, N failed, N skipped", that CI tooling reads
// regardless of the test runner's own formatting.
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>) {
    const count = (state: 'passed' | 'failed' | 'skipped') =>
      testModules.reduce((sum, module) => sum + [...module.children.allTests(state)].length, 0);
    // A file that failed to load has no test cases; count it as a failure so the line never hides it.
    const brokenFiles = testModules.filter(
      (module) => module.state() === 'failed' && [...module.children.allTests()].length === 0,
    );
    const failed = count('failed') + brokenFiles.length + unhandledErrors.length;
    console.log(`\nTests: ${count('passed')} passed, ${failed} failed, ${count('skipped')} skipped`);
  }
}

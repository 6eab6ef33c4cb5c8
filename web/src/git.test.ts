import { describe, expect, it } from 'vitest';
import { branchNameError, gitCommands, MAX_BRANCH_NAME } from './git';

describe('branchNameError', () => {
  // The vectors of tenants/git_test.go (TestValidBranchName): the console refuses what the server refuses.
  it.each(['main', 'feature/x', 'release-1.2', 'a', 'UPPER', 'x.y', 'b'.repeat(MAX_BRANCH_NAME)])('accepts %j', (name) =>
    expect(branchNameError(name)).toBe(''),
  );
  it.each([
    ['', 'such as main'],
    ['-h', '“-”'],
    ['--upload-pack=x', '“-”'],
    ['/x', '“/”'],
    ['x/', '“/”'],
    ['x.', 'end with “.”'],
    ['x.lock', '.lock'],
    ['a/b.lock/c', '.lock'],
    ['a..b', '“..”'],
    ['a@{1}', '“@{”'],
    ['a//b', '“//”'],
    ['with space', 'spaces'],
    ['tab\tx', 'spaces'],
    ['nul\u0000x', 'control'],
    ['a~1', '“~”'],
    ['a^', '“^”'],
    ['a:b', '“:”'],
    ['a?', '“?”'],
    ['a*', '“*”'],
    ['a[', '“[”'],
    ['a\\b', '“\\”'],
    ['.hidden', 'start with “.”'],
    ['a/.b', 'start with “.”'],
    ['@', '“@”'],
    ['é', 'non-ASCII'],
    ['b'.repeat(MAX_BRANCH_NAME + 1), `at most ${MAX_BRANCH_NAME}`],
  ])('refuses %j, saying why', (name, why) => expect(branchNameError(name)).toContain(why));
});

describe('gitCommands', () => {
  it('adds the remote and pushes the production branch', () => {
    expect(gitCommands('http://127.0.0.1:8081/git/blog.git', 'main')).toEqual([
      'git remote add pier http://127.0.0.1:8081/git/blog.git',
      'git push pier main',
    ]);
  });
  it('quotes what a shell would split or expand', () => {
    expect(gitCommands('https://console.example.net/git/my blog.git', 'feat$x')).toEqual([
      "git remote add pier 'https://console.example.net/git/my blog.git'",
      "git push pier 'feat$x'",
    ]);
  });
});

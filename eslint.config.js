// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layers import downwards only (README, "Layout"): a lower layer that reaches up would drag the
// broker into the SDK or make storage untestable alone. Each layer lists, as regexes over the
// import specifier, what it must not reach. Relative specifiers are matched by folder name at any
// depth, which is exact while no subfolder reuses a top-level folder's name.
const reaches = (/** @type {string[]} */ ...folders) => `^\\.{1,2}/(?:.*/)?(?:${folders.join('|')})(?:/|$)`;
// A bare specifier other than node:* is an npm package.
const PACKAGE = '^(?!node:|\\.)';

/** @typedef {{ regex: string, message: string }} Forbidden */

/**
 * Forbids static imports and re-exports (type-only ones too: a type from a higher layer is still a
 * dependency) and `import()` in code or in types, each with a message naming the rule broken.
 * @param {string[]} files
 * @param {Forbidden[]} forbidden
 * @param {string} [dynamicAllowed] the one specifier `import()` may load despite `forbidden`
 */
function layer(files, forbidden, dynamicAllowed) {
  // esquery reads a regex up to the first slash, so slashes are spelled \x2F there.
  const esq = (/** @type {string} */ re) => re.replaceAll('/', '\\x2F');
  const except = dynamicAllowed ? `:not([value=${JSON.stringify(dynamicAllowed)}])` : '';
  return {
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: forbidden.map(({ regex, message }) => ({ regex, caseSensitive: true, message })) },
      ],
      'no-restricted-syntax': [
        'error',
        ...forbidden.flatMap(({ regex, message }) => [
          { selector: `ImportExpression > Literal.source[value=/${esq(regex)}/]${except}`, message },
          { selector: `TSImportType > Literal.source[value=/${esq(regex)}/]`, message },
        ]),
      ],
    },
  };
}

/** @type {Forbidden[]} */
const PROTO = [
  {
    regex: reaches('storage', 'broker', 'client', 'scripts', 'test'),
    message: 'proto may import only node:* and packages',
  },
];
const STORAGE_MESSAGE = 'storage may import only proto and node:*';
/** @type {Forbidden[]} */
const STORAGE = [
  { regex: reaches('broker', 'client', 'scripts', 'test'), message: STORAGE_MESSAGE },
  { regex: PACKAGE, message: STORAGE_MESSAGE },
];
/** @type {Forbidden[]} */
const BROKER = [
  {
    regex: reaches('client', 'scripts', 'test'),
    message: 'broker may import only storage, proto, node:* and packages',
  },
];
// The surfaces decode, call the core and map errors; the core never calls back up into them.
const SURFACES = 'the broker core may not import its surfaces (grpc-*, http-*, kafka/, main)';
const SURFACE_FILE = '(?:grpc-[^/]*|http-[^/]*|kafka/.*|main\\.js)$';
const RAFT = 'broker/raft may import only proto and node:* (it is a pure state machine)';
/** @type {Forbidden[]} */
const CLIENT = [
  {
    regex: reaches('storage', 'broker', 'scripts', 'test'),
    message: 'client may import only proto, node:* and packages',
  },
];

export default tseslint.config(
  // proto/generated is written by scripts/gen-proto-types.sh.
  {
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'proto/generated/**', 'proto/kafka/generated/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  // scripts/ and test/ sit on top and may import anything.
  layer(['proto/**'], PROTO),
  layer(['storage/**'], STORAGE),
  layer(['broker/**'], BROKER),
  layer(['broker/*.ts'], [...BROKER, { regex: `^\\./${SURFACE_FILE}`, message: SURFACES }]),
  // The core's subfolders, one level down (group/, replica/), likewise.
  layer(
    ['broker/group/**', 'broker/replica/**'],
    [...BROKER, { regex: `^\\.\\./${SURFACE_FILE}`, message: SURFACES }],
  ),
  // The Raft protocol is a pure state machine, run alike in the broker and in the simulation: it
  // reaches nothing of the broker, storage or any package, so it cannot do I/O or keep time.
  layer(
    ['broker/raft/**'],
    [...BROKER, { regex: '^\\.\\./(?!\\.\\./proto/)', message: RAFT }, { regex: PACKAGE, message: RAFT }],
  ),
  // The surfaces themselves are above the core: only the layer rule applies to them.
  layer(['broker/grpc-*.ts', 'broker/http-*.ts', 'broker/kafka/**', 'broker/main.ts'], BROKER),
  layer(['client/**'], CLIENT),
  // `weir broker` loads the broker on demand, so the client commands never load it otherwise.
  layer(['client/cli/broker-command.ts'], CLIENT, '../../broker/main.js'),
);

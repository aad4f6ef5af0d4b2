// Builds the Node-API addon against Debian's oneDNN and gathers it, with the shared libraries it
// loads, into dist/: the package then runs on any x86-64 glibc Linux with Node 20 or later, with
// nothing else installed. One Node-API (version 8) binary serves every Node release since 20.
//
// Needs g++ and Debian's libdnnl-dev (`apt-get install g++ libdnnl-dev`). Without them the build
// says so and leaves no binary (@pyramid/core then uses its WebAssembly kernels), except in CI,
// where a missing toolchain is an error.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const LIBRARY_DIR = '/usr/lib/x86_64-linux-gnu';
const HEADER = '/usr/include/oneapi/dnnl/dnnl.hpp';
/** The shared libraries shipped beside the addon, with the Debian package holding each licence. */
const SHIPPED = [
  { soname: 'libdnnl.so.2', license: 'libdnnl2' },
  { soname: 'libgomp.so.1', license: 'libgomp1' },
  { soname: 'libOpenCL.so.1', license: 'ocl-icd-libopencl1' },
];

function nodeHeaders() {
  const candidates = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'];
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
}

function missing(what) {
  const message = `@pyramid/cpu-linux-x64-gnu: not built, ${what}; install with: apt-get install g++ libdnnl-dev (the CPU backend falls back to WebAssembly meanwhile)`;
  if (process.env.CI) {
    console.error(message);
    process.exit(1);
  }
  console.warn(message);
  rmSync(dist, { recursive: true, force: true });
  process.exit(0);
}

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.log(`@pyramid/cpu-linux-x64-gnu: nothing to build on ${process.platform}-${process.arch}`);
  process.exit(0);
}
const headers = nodeHeaders();
if (!headers) missing("Node's node_api.h was not found");
if (!existsSync(HEADER)) missing(`${HEADER} is missing`);
try {
  execFileSync('g++', ['--version'], { stdio: 'ignore' });
} catch {
  missing('g++ is missing');
}

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'licenses'), { recursive: true });
const src = (file) => join(root, 'src', file);
const common = ['-O3', '-std=c++17', '-fPIC', '-fopenmp', '-fvisibility=hidden', '-Wall'];
/** The memory-bound kernels, once per instruction set; the addon picks one at load time. */
const ISAS = {
  avx512: ['-mavx512f', '-mavx512bw', '-mavx512dq', '-mavx512vl', '-mfma', '-mprefer-vector-width=512'],
  avx2: ['-mavx2', '-mfma'],
  baseline: [],
};
const objects = [];
for (const [isa, flags] of Object.entries(ISAS)) {
  const object = join(dist, `elementwise-${isa}.o`);
  execFileSync('g++', [...common, ...flags, `-DELEMENTWISE_ISA=${isa}`, `-DELEMENTWISE_TABLE=elementwise_${isa}`, '-c', src('elementwise-kernels.cc'), '-o', object], { stdio: 'inherit' });
  // The SGD update rounds every operation as JavaScript does: no fused multiply-adds.
  const sgd = join(dist, `sgd-${isa}.o`);
  execFileSync('g++', [...common, ...flags, '-ffp-contract=off', `-DELEMENTWISE_ISA=${isa}`, '-c', src('sgd-kernels.cc'), '-o', sgd], { stdio: 'inherit' });
  objects.push(object, sgd);
}
execFileSync(
  'g++',
  [
    ...common, '-shared', `-I${headers}`, '-DNAPI_VERSION=8', '-DNODE_GYP_MODULE_NAME=pyramid_cpu',
    src('addon.cc'), src('elementwise.cc'), ...objects,
    '-o', join(dist, 'pyramid-cpu.node'),
    // DT_RPATH (not RUNPATH) also serves the libraries' own dependencies: all of them sit in dist/.
    '-Wl,--disable-new-dtags', '-Wl,-rpath,$ORIGIN', '-Wl,--no-as-needed', '-ldnnl', '-lOpenCL',
    '-static-libstdc++', '-static-libgcc',
  ],
  { stdio: 'inherit' },
);
for (const object of objects) rmSync(object);
for (const { soname, license } of SHIPPED) {
  copyFileSync(realpathSync(join(LIBRARY_DIR, soname)), join(dist, soname));
  copyFileSync(`/usr/share/doc/${license}/copyright`, join(dist, 'licenses', `${license}.copyright`));
}
writeFileSync(join(dist, 'licenses', 'README'), 'Licences of the shared libraries shipped beside pyramid-cpu.node, as Debian states them.\n');
console.log(`@pyramid/cpu-linux-x64-gnu: built ${join('dist', 'pyramid-cpu.node')} with ${SHIPPED.map((s) => s.soname).join(', ')}`);

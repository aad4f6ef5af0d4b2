/**
 * @pyramid/core/node: the parts that need Node's file system. The main entry stays usable in
 * browsers.
 */
export { writeFileAtomically, writeFolderAtomically, renameIntoPlace, writeError, type FolderContent } from './node/atomic-write';

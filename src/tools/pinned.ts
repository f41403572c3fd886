/**
 * The default versions of the scanners Edgeship downloads, with the sha256 of every release archive
 * it may fetch for them. The table lives in source on purpose: a release whose checksums file was
 * replaced together with its archive still cannot pass, because the expected hash never comes from
 * the download server.
 *
 * Every hash below is copied from the project's published `<tool>_<version>_checksums.txt` and was
 * cross-checked in two independent public repositories that pin the same release (repo @ commit :
 * path). To move a pin: change the version and all four hashes together, from the release's
 * checksums file, and record where they were checked.
 */

export type ToolName = 'syft' | 'grype';

export interface PinnedRelease {
  /** Version without a leading `v`, as in the release asset names. */
  version: string;
  /** Exact release asset file name → lowercase hex sha256. */
  archives: Readonly<Record<string, string>>;
}

export type PinTable = Readonly<Record<ToolName, PinnedRelease>>;

export const PINNED_TOOLS: PinTable = {
  syft: {
    version: '1.52.0',
    // Cross-checked, all four identical in both:
    //  - nimeshbuilds/cloudseed @ 380d90c4a820f2bf392bcd67a1d806ab3f0d13a5 : scripts/generate-sbom.py
    //    (comment there: "reviewed from .../v1.52.0/syft_1.52.0_checksums.txt")
    //  - nahuex/tayzu @ 31d3333936ae001edb08528bc66d16d4210e8f4d : scripts/ci/syft.sh
    archives: {
      'syft_1.52.0_linux_amd64.tar.gz': 'caeedb81fb0491615f1ebd1761e4145d41ee86dd2cc7bf80669f9f5ad9d6133d',
      'syft_1.52.0_linux_arm64.tar.gz': 'c46d5e4c28e12aa4c5becfaa343ef1c7f89045b6b895f2c21d471c62db09c706',
      'syft_1.52.0_darwin_amd64.tar.gz': '56975f5d7ffa9846a1eaf64330647841b878097bc7e3730cb9325f93add96917',
      'syft_1.52.0_darwin_arm64.tar.gz': '014d561b6d13059124155f74a6c5a9a99501f5e209313638dd884f39eb418ee6',
    },
  },
  grype: {
    version: '0.119.0',
    // Cross-checked, all four identical in both:
    //  - smhasan94/rollcall @ 084133559b2c07dba3f75a63f1996edf190b4700 : scripts/smoke-scan.sh
    //  - ArjunRachithcf/depsmith @ 0e18c0fa4559a47d969cd939c0e208f87398917d : crates/core/src/provision.rs
    archives: {
      'grype_0.119.0_linux_amd64.tar.gz': '3fa2dc4b924621ab65404cf08d0b8438d896d80ab949c9d5a4ca283c36004c9b',
      'grype_0.119.0_linux_arm64.tar.gz': '29f0ec7c549ddb0e2b6a0ca714851f7399438afc399b80c12808e065edc9a8f8',
      'grype_0.119.0_darwin_amd64.tar.gz': 'ea106d3ab9573d654871ad9e3e89be2237506ff3f8c170e5aeacb59da4def2b8',
      'grype_0.119.0_darwin_arm64.tar.gz': '500c9b2b6c089d21481815f57a553fabbd441ec7d1e79d95e3aaf40c3bfc7e36',
    },
  },
};

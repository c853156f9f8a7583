//! Test vectors of requirements: extras, markers, specifiers, URLs and names, each in the
//! canonical form the hash sees. How the vectors were made is in `vectors.rs`.

mod support;

use support::{hash, vector};

#[test]
fn vector_extras_are_a_set() {
    // pep508_rs lowercases extras but prints them in the order written and keeps repeats;
    // kaspr-hash sorts and deduplicates them, so all of these are `pkg[a,b]`.
    vector(
        &[
            "packages: ['pkg[a,b]']",
            "packages: ['pkg[b,a]']",
            "packages: ['PKG[ B , a ]']",
            "packages: ['pkg[a,b,a]']",
            "packages: ['pkg[b,a]', 'pkg[a,b]']",
        ],
        r#"{"installer":"pip","packages":["pkg[a,b]"]}"#,
        "11705ca765680a70",
    );
}

#[test]
fn vector_marker() {
    // pep508_rs's canonical form: ` ; ` before the marker, single quotes, and `python_version`
    // rewritten as `python_full_version`.
    vector(
        &[
            r#"packages: ['pkg; python_version >= "3.9"']"#,
            r#"packages: ['pkg ; python_version >= "3.9"']"#,
            r#"packages: ["pkg;python_version>='3.9'"]"#,
        ],
        r#"{"installer":"pip","packages":["pkg ; python_full_version >= '3.9'"]}"#,
        "15fc4e683cd39e8f",
    );
}

#[test]
fn vector_marker_conjunction_and_specifier() {
    // pep508_rs's canonical form orders the terms of an `and`.
    vector(
        &[
            r#"packages: ['pkg>=1; python_version >= "3.9" and sys_platform == "linux"']"#,
            r#"packages: ['pkg >= 1 ; sys_platform == "linux" and python_version >= "3.9"']"#,
        ],
        r#"{"installer":"pip","packages":["pkg>=1 ; python_full_version >= '3.9' and sys_platform == 'linux'"]}"#,
        "326424b607993587",
    );
}

#[test]
fn vector_several_specifiers() {
    // pep508_rs's canonical form: no spaces, specifiers in its own order (`>=1,!=1.5,<2`)
    // whatever order they were written in.
    vector(
        &[
            "packages: ['pkg>=1,<2,!=1.5']",
            "packages: ['pkg >= 1, < 2, != 1.5']",
            "packages: ['pkg<2,!=1.5,>=1']",
            "packages: ['pkg (>=1,<2,!=1.5)']",
        ],
        r#"{"installer":"pip","packages":["pkg>=1,!=1.5,<2"]}"#,
        "55cfa94c3d5b8acc",
    );
}

#[test]
fn vector_wheel_url() {
    // pep508_rs's canonical form: ` @ ` around the URL; the URL itself is kept verbatim.
    vector(
        &[
            "packages: ['pkg @ https://host/pkg-1.0-py3-none-any.whl']",
            "packages: ['pkg@https://host/pkg-1.0-py3-none-any.whl']",
            "packages: ['Pkg @ https://host/pkg-1.0-py3-none-any.whl']",
        ],
        r#"{"installer":"pip","packages":["pkg @ https://host/pkg-1.0-py3-none-any.whl"]}"#,
        "82a936cb68993c23",
    );
}

#[test]
fn vector_git_url() {
    vector(
        &[
            "packages: ['pkg @ git+https://github.com/org/repo@v1']",
            "packages: ['pkg@git+https://github.com/org/repo@v1']",
            "packages: ['PKG @ git+https://github.com/org/repo@v1']",
        ],
        r#"{"installer":"pip","packages":["pkg @ git+https://github.com/org/repo@v1"]}"#,
        "37a37da0ab09fab3",
    );
    assert_ne!(
        hash("packages: ['pkg @ git+https://github.com/org/repo@v2']"),
        "37a37da0ab09fab3",
        "another ref is another environment"
    );
}

#[test]
fn vector_url_with_extras_and_marker() {
    // A marker after a URL needs whitespace before `;` (PEP 508), else it is part of the URL.
    vector(
        &[
            r#"packages: ['PKG[x,A] @ https://host/pkg-1.0-py3-none-any.whl ; python_version >= "3.9"']"#,
            r#"packages: ['pkg[a,x]@https://host/pkg-1.0-py3-none-any.whl ;python_version>="3.9"']"#,
        ],
        r#"{"installer":"pip","packages":["pkg[a,x] @ https://host/pkg-1.0-py3-none-any.whl ; python_full_version >= '3.9'"]}"#,
        "d658ae59cd178a57",
    );
}

#[test]
fn vector_name_normalisation() {
    // PEP 503 names: lowercase, runs of `-`, `_` and `.` become one `-`.
    vector(
        &[
            "packages: [foo-bar]",
            "packages: [Foo_Bar]",
            "packages: [Foo.Bar]",
            "packages: [FOO__bar]",
            "packages: [Foo_Bar, foo-bar]",
        ],
        r#"{"installer":"pip","packages":["foo-bar"]}"#,
        "b16be91fc247edad",
    );
}

#[test]
fn vector_sorted_by_canonical_text_and_deduplicated() {
    // Sorted by the bytes of the canonical text: `pkg ;` < `pkg @` < `pkg>` < `pkg[` (space, then
    // `;` 0x3b < `@` 0x40; `>` 0x3e < `[` 0x5b), so no two spellings of one list differ.
    let forward = r#"
packages:
  - zeta == 1
  - 'pkg[a]'
  - pkg>=1
  - 'pkg @ https://host/pkg-1.0-py3-none-any.whl'
  - 'pkg; python_version >= "3.9"'
  - alpha
  - Zeta==1
  - 'PKG[A]'
"#;
    let backward = r#"
packages:
  - 'PKG[A]'
  - Zeta==1
  - alpha
  - "pkg;python_version>='3.9'"
  - 'pkg@https://host/pkg-1.0-py3-none-any.whl'
  - pkg >= 1
  - 'pkg[a]'
  - zeta==1
  - alpha
"#;
    vector(
        &[forward, backward],
        concat!(
            r#"{"installer":"pip","packages":["alpha","pkg ; python_full_version >= '3.9'","#,
            r#""pkg @ https://host/pkg-1.0-py3-none-any.whl","pkg>=1","pkg[a]","zeta==1"]}"#
        ),
        "f3d74c3b64388c1d",
    );
}

#[test]
fn vector_legacy_egg_url_is_its_pep_508_form() {
    // pip's `URL#egg=name` (upstream's github-ssh-deploy-key example) hashes as `name @ URL`.
    let pep508 = hash(
        "packages: ['private-package @ git+ssh://git@github.com/my-org/private-package.git@v1.2.3']",
    );
    assert_eq!(
        hash(
            "packages: ['git+ssh://git@github.com/my-org/private-package.git@v1.2.3#egg=private-package']"
        ),
        pep508
    );
}

//! Rewrite the generated files: `cargo run --example generate`.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["completions", "man"] {
        let _ = std::fs::remove_dir_all(root.join(dir));
        std::fs::create_dir_all(root.join(dir))?;
    }
    for (path, contents) in temps::generate::files() {
        std::fs::write(root.join(&path), contents)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

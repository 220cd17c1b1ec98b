//! ANSI colours for the trace commands' terminal output, only when the caller asks for them (the caller
//! decides from the terminal and `NO_COLOR`).

/// Paints text with ANSI escape codes when enabled, else returns it unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ansi {
    enabled: bool,
}

impl Ansi {
    /// A painter; `enabled` false makes every method the identity.
    pub fn new(enabled: bool) -> Self {
        Self { enabled }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Bold.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Dim.
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    /// Red (errors and faults).
    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Green (success).
    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Yellow (partial success, the critical path).
    pub fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paints_only_when_enabled() {
        assert_eq!(Ansi::new(false).red("x"), "x");
        assert_eq!(Ansi::new(true).red("x"), "\x1b[31mx\x1b[0m");
    }
}

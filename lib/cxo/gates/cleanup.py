"""cleanup: a second reviewer pass on larger changes (duplication, dead code, needless complexity)."""

from .paths import quality, runtime_files
from .review import ReviewGate


class CleanupGate(ReviewGate):
    name = "cleanup"
    role = "cleanup"  # the reviewer can tell this pass from the review gate

    def applies(self, ctx):
        q = quality(ctx.policy)
        if not (q["enabled"] and q["codeReview"]):
            return False, "code review is turned off by policy (reviewGates.quality.codeReview)"
        count, threshold = len(runtime_files(ctx)), q["cleanupReviewThreshold"]
        if count < threshold:
            return False, f"{count} runtime file(s) < cleanup threshold {threshold}"
        return True, ""

    def focus(self, ctx) -> str:
        return ctx.policy.prompt_path("cleanup").read_text()

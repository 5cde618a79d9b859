#!/usr/bin/env python3
"""Render chat-template test cases the way Hugging Face transformers does.

Usage (from the repository root):
    python3 tools/render_templates.py tests/fixtures/templates/cases.json \
        > tests/fixtures/templates/expected.json

Each case names a template file (next to cases.json), messages, tools, add_generation_prompt,
special tokens and extra template kwargs. The output maps case name -> {"text": rendered} or
{"error": message} (a template that calls raise_exception, or fails to render).

Renderer: transformers' own `render_jinja_template` when transformers is installed (the GPU
machine); otherwise plain jinja2 configured as transformers configures it (sandboxed environment,
trim_blocks, lstrip_blocks, loopcontrols, a json.dumps `tojson` without HTML escaping,
`raise_exception`, `strftime_now`). The output records which one ran.
"""

import json
import os
import sys
from datetime import datetime


def jinja2_renderer():
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now

    def render(template, messages, tools, add_generation_prompt, variables):
        return env.from_string(template).render(
            messages=messages, tools=tools, documents=None, add_generation_prompt=add_generation_prompt, **variables
        )

    return f"jinja2 {jinja2.__version__} configured as transformers does", render


def transformers_renderer():
    import transformers
    from transformers.utils.chat_template_utils import render_jinja_template

    def render(template, messages, tools, add_generation_prompt, variables):
        rendered, _ = render_jinja_template(
            conversations=[messages],
            tools=tools,
            chat_template=template,
            add_generation_prompt=add_generation_prompt,
            **variables,
        )
        return rendered[0]

    return f"transformers {transformers.__version__} render_jinja_template", render


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: render_templates.py CASES_JSON > expected.json")
    cases_path = sys.argv[1]
    base = os.path.dirname(os.path.abspath(cases_path))
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    forced = os.environ.get("RENDERER")  # "jinja2" to skip transformers
    try:
        if forced == "jinja2":
            raise ImportError("RENDERER=jinja2")
        name, render = transformers_renderer()
    except ImportError:
        name, render = jinja2_renderer()
    out = {}
    for case in cases:
        with open(os.path.join(base, case["template"]), encoding="utf-8") as f:
            template = f.read()
        variables = dict(case.get("special_tokens", {}))
        variables.update(case.get("kwargs", {}))
        try:
            text = render(template, case["messages"], case.get("tools"), case.get("add_generation_prompt", False), variables)
            out[case["name"]] = {"text": text}
        except Exception as e:  # noqa: BLE001 - any render failure is an expected outcome to record
            out[case["name"]] = {"error": str(e)}
    json.dump({"renderer": name, "cases": out}, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

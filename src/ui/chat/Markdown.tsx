// Markdown of a reply: react-markdown with HTML escaped (never rendered), images dropped (a reply
// must not make the page fetch anything), links opened in a new tab without a referrer, and code
// blocks with a copy button.

import { memo, useRef, useState, type ComponentPropsWithoutRef } from 'react';
import ReactMarkdown from 'react-markdown';

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // clipboard API refused (permissions, insecure context): the selection fallback
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}

export function CopyButton({ text, label }: { text: () => string; label: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  return (
    <button
      type="button"
      className="copy-button"
      aria-label={label}
      data-testid="copy-button"
      onClick={async () => {
        setState((await copyText(text())) ? 'copied' : 'failed');
        setTimeout(() => setState('idle'), 1500);
      }}
    >
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : 'Copy'}
    </button>
  );
}

function CodeBlock(props: ComponentPropsWithoutRef<'pre'> & { node?: unknown }) {
  const { node: _node, children, ...rest } = props;
  const ref = useRef<HTMLPreElement>(null);
  return (
    <div className="code-block">
      <CopyButton text={() => ref.current?.textContent ?? ''} label="Copy code" />
      <pre ref={ref} {...rest}>
        {children}
      </pre>
    </div>
  );
}

function Link(props: ComponentPropsWithoutRef<'a'> & { node?: unknown }) {
  const { node: _node, children, ...rest } = props;
  return (
    <a {...rest} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  );
}

const COMPONENTS = { pre: CodeBlock, a: Link };
const DISALLOWED = ['img'];

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  return (
    <ReactMarkdown components={COMPONENTS} disallowedElements={DISALLOWED} unwrapDisallowed={false}>
      {text}
    </ReactMarkdown>
  );
});

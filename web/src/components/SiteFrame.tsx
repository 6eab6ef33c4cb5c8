import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { navigate } from '../router';
import { sitePath, type SiteTab } from '../format';

/** A link the router follows without reloading the page. */
export function Link(props: { href: string; class?: string; current?: boolean; children: ComponentChildren; label?: string }) {
  return (
    <a
      href={props.href}
      class={props.class}
      aria-label={props.label}
      aria-current={props.current ? 'page' : undefined}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}

/** The site's tabs and their labels, in order. */
const tabs: [SiteTab, string][] = [
  ['overview', 'Overview'],
  ['deployments', 'Deployments'],
  ['deploy', 'Deploy'],
  ['domains', 'Domains'],
  ['logs', 'Logs'],
  ['analytics', 'Analytics'],
  ['settings', 'Settings'],
];

/** The head of a site's pages: breadcrumb, name, and the site's tabs. */
export function SiteFrame(props: { site: string; tab: SiteTab; children: ComponentChildren; actions?: ComponentChildren }) {
  // On a narrow screen the tabs scroll sideways: bring the current one into view.
  const tabsRef = useRef<HTMLElement>(null);
  useLayoutEffect(() => {
    const nav = tabsRef.current;
    const cur = nav?.querySelector<HTMLElement>('[aria-current="page"]');
    if (nav && cur && (cur.offsetLeft < nav.scrollLeft || cur.offsetLeft + cur.offsetWidth > nav.scrollLeft + nav.clientWidth)) {
      nav.scrollLeft = cur.offsetLeft - 16; // .tabs is positioned: offsets are within it
    }
  }, [props.tab]);
  return (
    <section class="page" aria-labelledby="site-title">
      <nav class="breadcrumb" aria-label="Breadcrumb">
        <Link href="/sites">Sites</Link>
        <span aria-hidden="true"> / </span>
        <span>{props.site}</span>
      </nav>
      <div class="page-head">
        <h1 id="site-title" class="site-title">
          {props.site}
        </h1>
        {props.actions}
      </div>
      <nav class="tabs" aria-label="Site" ref={tabsRef}>
        {tabs.map(([tab, label]) => (
          <Link key={tab} href={sitePath(props.site, tab)} current={props.tab === tab}>
            {label}
          </Link>
        ))}
      </nav>
      {props.children}
    </section>
  );
}

/** What a site's page shows when the site does not exist or belongs to another tenant. */
export function SiteNotFound(props: { site: string }) {
  return (
    <section class="page" aria-labelledby="site-missing">
      <div class="card empty">
        <h1 id="site-missing">Site not found</h1>
        <p class="muted">
          There is no site named <code>{props.site}</code> that you can see.{' '}
          <Link href="/sites">Back to your sites</Link>.
        </p>
      </div>
    </section>
  );
}

import { useState } from 'preact/hooks';
import { Analytics } from '../components/Analytics';
import { SiteFrame, SiteNotFound } from '../components/SiteFrame';

/** /sites/<name>/analytics: the site's usage over 1 h, 24 h or 7 d. */
export function SiteAnalytics(props: { site: string; onUnauthorized: () => void }) {
  const [missing, setMissing] = useState(false);
  if (missing) return <SiteNotFound site={props.site} />;
  return (
    <SiteFrame site={props.site} tab="analytics">
      <Analytics scope={{ site: props.site }} onUnauthorized={props.onUnauthorized} onMissing={() => setMissing(true)} />
    </SiteFrame>
  );
}

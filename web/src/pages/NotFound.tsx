import { navigate } from '../router';

export function NotFound() {
  return (
    <section class="page">
      <h1>Page not found</h1>
      <p>
        This page does not exist.{' '}
        <a
          href="/sites"
          onClick={(e) => {
            e.preventDefault();
            navigate('/sites');
          }}
        >
          Go to your sites
        </a>
        .
      </p>
    </section>
  );
}

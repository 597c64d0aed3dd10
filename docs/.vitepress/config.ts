import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type DefaultTheme } from 'vitepress';

const docsRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(docsRoot, '..');
/** Where the source lives: links from a page to files outside docs/ (tests, examples) go there. */
const REPOSITORY = 'https://github.com/keyward/keyward';

/**
 * Pages that other parts of the project write. They join the navigation as soon as their file exists, so the
 * site never links to a page that is not there.
 */
const optionalPage = (text: string, page: string): DefaultTheme.SidebarItem[] =>
  existsSync(join(docsRoot, `${page}.md`)) ? [{ text, link: `/${page}` }] : [];

const apiSidebar = JSON.parse(readFileSync(join(docsRoot, 'api/typedoc-sidebar.json'), 'utf8')) as DefaultTheme.SidebarItem[];

const guide: DefaultTheme.SidebarItem[] = [
  { text: 'Introduction', link: '/guide/' },
  {
    text: 'Getting started',
    items: [
      { text: 'Express', link: '/guide/express' },
      { text: 'Fastify', link: '/guide/fastify' },
      { text: 'Hono', link: '/guide/hono' },
    ],
  },
  {
    text: 'Guides',
    items: [
      { text: 'Adding auth to an MCP server', link: '/guide/existing-mcp-server' },
      { text: 'Login and consent', link: '/guide/login' },
      { text: 'Identity providers', link: '/guide/identity-providers' },
      { text: 'Stores and scaling', link: '/guide/stores' },
      { text: 'Security checklist', link: '/guide/security' },
      { text: 'Behind a proxy, with TLS', link: '/guide/deployment' },
      { text: 'Workers and other runtimes', link: '/guide/runtimes' },
      { text: 'Migrating from mcpAuthRouter', link: '/guide/migrating-from-mcp-sdk' },
      { text: 'Troubleshooting', link: '/guide/troubleshooting' },
    ],
  },
  {
    text: 'Reference',
    items: [
      { text: 'Architecture', link: '/guide/architecture' },
      { text: 'Core layers', link: '/architecture' },
      { text: 'Stores in depth', link: '/stores' },
      { text: 'Decisions', link: '/decisions' },
      { text: 'Compliance', link: '/compliance' },
      { text: 'Runtimes', link: '/runtimes' },
      ...optionalPage('Security model', 'security'),
      ...optionalPage('Performance', 'performance'),
      ...optionalPage('Operations', 'operations'),
      { text: 'API reference', link: '/api/' },
    ],
  },
];

export default defineConfig({
  title: 'Keyward',
  description: 'OAuth 2.1 for MCP servers: a complete authorization server and the resource-server guard, for Express, Fastify, Hono and Web runtimes',
  lang: 'en-US',
  cleanUrls: true,
  lastUpdated: false,
  // docs/README.md is the index for people browsing the repository; the site has its own home page.
  srcExclude: ['README.md', 'scripts/**', 'node_modules/**'],
  // A link to one of the pages above that is not written yet is not dead: it appears with the page.
  ignoreDeadLinks: [(url) => /^\.?\.?\/?(security|performance|operations)(\.md)?(#.*)?$/.test(url) && !existsSync(join(docsRoot, `${url.replace(/^[./]+/, '').replace(/(\.md)?(#.*)?$/, '')}.md`))],
  markdown: {
    config(md) {
      // Links from a page to the repository (tests, examples, package sources) leave the site for the
      // repository's web view, so compliance rows and guides can point at the code.
      const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
      md.renderer.rules.link_open = (tokens, idx, options, env: { relativePath?: string }, self) => {
        const href = tokens[idx].attrGet('href');
        if (href && env.relativePath && !/^([a-z]+:|#|\/)/i.test(href)) {
          const [path, hash = ''] = href.split('#');
          const target = posix.normalize(posix.join(posix.dirname(`docs/${env.relativePath}`), path));
          if (!target.startsWith('docs/') && existsSync(join(repoRoot, target))) {
            tokens[idx].attrSet('href', `${REPOSITORY}/blob/main/${target}${hash ? `#${hash}` : ''}`);
            tokens[idx].attrSet('target', '_blank');
          }
        }
        return defaultLinkOpen(tokens, idx, options, env, self);
      };
    },
  },
  themeConfig: {
    logo: '/logo.svg',
    nav: [
      { text: 'Guide', link: '/guide/' },
      { text: 'API', link: '/api/' },
      { text: 'Compliance', link: '/compliance' },
    ],
    sidebar: {
      '/api/': [{ text: 'API reference', link: '/api/', items: apiSidebar }, { text: '← Guide', link: '/guide/' }],
      '/': guide,
    },
    search: { provider: 'local' },
    socialLinks: [{ icon: 'github', link: REPOSITORY }],
    outline: { level: [2, 3] },
    footer: { message: 'Released under the MIT License.' },
  },
  vite: { server: { fs: { allow: [repoRoot] } } },
});

